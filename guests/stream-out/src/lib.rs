//! Plugin: returns the exchange with its input body replaced by the WIT
//! `stream` variant: a `stream<u8>` carrying `hello` (5 bytes), then end of
//! stream, then a terminal future resolving `ok`; size hint 5, content type
//! `text/plain`, origin `stream-out`. The host drains it into a stream body.
//! Reads no headers.
//!
//! Written on raw wit-bindgen (the SDK's `Body::stream_from` does the same).
//! The bytes and the terminal value are written by a task that runs on after
//! `process` returns (a stream write completes only when the reader takes the
//! bytes, and the host reads only after `process` returns).

wit_bindgen::generate!({ world: "plugin", path: "../../wit" });

use camel::plugin::types::{StreamBodyHandle, WasmBody};

const PAYLOAD: &[u8] = b"hello";

struct StreamOut;

impl Guest for StreamOut {
    async fn process(mut exchange: WasmExchange) -> Result<WasmExchange, WasmError> {
        let (mut writer, stream) = wit_stream::new::<u8>();
        let (terminal_writer, terminal) = wit_future::new::<Result<(), WasmError>>(|| Ok(()));
        wit_bindgen::spawn_local(async move {
            // Both writes fail harmlessly if the host drops the readers.
            let _unwritten = writer.write_all(PAYLOAD.to_vec()).await;
            drop(writer);
            let _ = terminal_writer.write(Ok(())).await;
        });
        exchange.input.body = WasmBody::Stream(StreamBodyHandle {
            stream,
            terminal,
            size_hint: Some(PAYLOAD.len() as u64),
            content_type: Some("text/plain".into()),
            origin: Some("stream-out".into()),
        });
        Ok(exchange)
    }

    fn init() -> Result<(), String> {
        Ok(())
    }
}

export!(StreamOut);
