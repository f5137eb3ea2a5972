//! `camel-wasm call`: send one exchange through a guest and print the result.

use camel_wasm::{Body, Decision, Exchange, Latency, escape_control};

use crate::args::{CallArgs, json_or_string, key_value};
use crate::body;
use crate::target::Outcome;

/// The exchange the flags describe: body, headers and properties.
fn exchange(args: &CallArgs) -> Result<Exchange, String> {
    let json = |text: &str| serde_json::from_str(text).map_err(|e| format!("--json body is not JSON: {e}"));
    let body = match (&args.body, &args.body_file) {
        (None, None) => Body::Empty,
        (Some(text), _) if args.json => Body::Json(json(text)?),
        (Some(text), _) => Body::Text(text.clone()),
        (None, Some(file)) if args.stream => Body::Stream(body::file_stream(file)?),
        (None, Some(file)) if args.json => {
            Body::Json(json(&std::fs::read_to_string(file).map_err(|e| format!("--body-file {file}: {e}"))?)?)
        }
        (None, Some(file)) => body::file_body(file)?,
    };
    let mut exchange = Exchange::new(body);
    for pair in &args.headers {
        let (k, v) = key_value(pair, "--header")?;
        exchange.input.headers.insert(k, json_or_string(v));
    }
    for pair in &args.properties {
        let (k, v) = key_value(pair, "--property")?;
        exchange.properties.insert(k, json_or_string(v));
    }
    Ok(exchange)
}

/// Runs `call`, with its metrics after the result when `--metrics` is given.
pub async fn call(args: CallArgs) -> Result<(), String> {
    let exchange = exchange(&args)?;
    // Handles are registered when a guest is loaded: the recorder goes first.
    let metrics = match args.metrics {
        true => {
            let latency = match (&args.metrics_buckets, args.metrics_summary) {
                (_, true) => Latency::Summary,
                (Some(buckets), _) => Latency::Histogram(buckets.clone()),
                (None, false) => Latency::default(),
            };
            let recorder = camel_wasm::prometheus(latency).and_then(|b| b.install_recorder());
            Some(recorder.map_err(|e| format!("--metrics: {e}"))?)
        }
        false => None,
    };
    let result = call_once(&args, exchange).await;
    if let Some(handle) = metrics {
        println!("# metrics");
        print!("{}", handle.render());
    }
    result
}

async fn call_once(args: &CallArgs, exchange: Exchange) -> Result<(), String> {
    let (target, _name) = args.target.load(true).await?;
    match target.run(exchange).await.map_err(|e| e.to_string())? {
        Outcome::Exchange(exchange) => body::show(exchange, args.body_out.as_deref()).await?,
        Outcome::Decision(Decision::Granted) => println!("Granted"),
        Outcome::Decision(Decision::Denied { reason }) => println!("Denied: {}", escape_control(&reason)),
        Outcome::Verdict(answer) => println!("{}", escape_control(&answer)),
    }
    Ok(())
}
