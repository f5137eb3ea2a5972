use camel_wasm_guest::prelude::*;
struct Upper;
impl Plugin for Upper {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        ex.body_mut().map_text(str::to_uppercase).map_err(|_| Error::type_conversion("upper expects a text body"))?;
        ex.set_header("x-processed-by", "upper");
        Ok(ex)
    }
}
export_plugin!(Upper);
