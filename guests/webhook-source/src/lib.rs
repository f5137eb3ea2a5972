//! Source: a signed-webhook receiver. Sequential (one request at a time).
//!
//! Configuration: `secret` (required, non-empty; `configure` fails with the
//! processor error `webhook-source: config 'secret' is required` otherwise),
//! `bind` (default `0.0.0.0:8080`) and `path` (default: any path), which
//! make the plan: one HTTP listener on `bind`/`path`, sequential.
//!
//! For each request, in this order:
//! 1. Reads the body whole (at most 1 MiB, [`MAX_BODY`]); a larger body is
//!    rejected with `413` (`payload larger than 1048576 bytes`).
//! 2. Checks the header `x-signature`, which must be `sha256=<hex>`: the
//!    HMAC-SHA256 of the body bytes keyed with `secret`, 64 hex digits (either
//!    case), compared in constant time. A missing header is rejected with
//!    `401` (`missing x-signature`), a malformed or wrong one with `401`
//!    (`bad signature`).
//! 3. Parses the body as JSON; it must be an object whose `event` is a
//!    string, else rejected with `400` (`payload must be a JSON object with a
//!    string "event"`).
//! 4. Submits an IN-ONLY exchange: input headers = all the request's headers
//!    (lower-case names, `x-signature` and `camel-wasm-request-id` included)
//!    plus `x-event` = the event (a string), input body = JSON, the payload's
//!    text exactly as received, correlation id = the request id (the
//!    `camel-wasm-request-id` header), properties `camel.http.method` and
//!    `camel.http.path`. The host answers `202` once the route took it.
//!
//! A rejection (the SDK's `Request::reject`) submits no payload: an IN-OUT
//! exchange with correlation id = the request id, headers
//! `camel-wasm-request-id`, `camel.http.response-code` = the status,
//! `camel-wasm-reply: direct` and `content-type: text/plain; charset=utf-8`,
//! text body = the message above. A host that honours `camel-wasm-reply:
//! direct` answers with that status and message without running the route;
//! one that does not runs the route with the rejection exchange (never with
//! the unverified payload). A failing request stream is answered `500` (the
//! SDK's `serve`); an accept or submit error ends `run` with that error.

use camel_wasm_guest::prelude::*;
use camel_wasm_guest::serde_json;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The largest payload accepted, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// Decodes 64 hex digits (either case) into 32 bytes.
fn decode_hex_32(hex: &str) -> Option<[u8; 32]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
fn signature_ok(secret: &str, body: &[u8], signature: &str) -> bool {
    let Some(expected) = signature.trim().strip_prefix("sha256=").and_then(decode_hex_32) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

struct WebhookSource;

impl Source for WebhookSource {
    fn configure(config: Config) -> Result<Plan, Error> {
        if config.get("secret").is_none_or(str::is_empty) {
            return Err(Error::processor("webhook-source: config 'secret' is required"));
        }
        Plan::from_config(&config)
    }

    async fn run(listener: Listener<'_>) -> Result<(), Error> {
        let secret = listener.config().get_or("secret", "").to_owned();
        serve(&listener, async |mut req: Request| {
            let mut reader = req.take_body().into_reader();
            let mut body = Vec::new();
            while let Some(chunk) = reader.next_chunk().await {
                let chunk = chunk?;
                if body.len() + chunk.len() > MAX_BODY {
                    return Ok(req.reject(413, format!("payload larger than {MAX_BODY} bytes")));
                }
                body.extend_from_slice(&chunk);
            }
            drop(reader);

            let Some(signature) = req.header("x-signature") else {
                return Ok(req.reject(401, "missing x-signature"));
            };
            if !signature_ok(&secret, &body, signature) {
                return Ok(req.reject(401, "bad signature"));
            }

            let event =
                serde_json::from_slice::<Value>(&body).ok().and_then(|payload| Some(payload.get("event")?.as_str()?.to_owned()));
            let (Some(event), Ok(text)) = (event, String::from_utf8(body)) else {
                return Ok(req.reject(400, r#"payload must be a JSON object with a string "event""#));
            };

            let mut ex = req.into_exchange();
            ex.set_body(Body::Json(text));
            ex.set_header("x-event", event);
            Ok(ex)
        })
        .await
    }
}

export_source!(WebhookSource);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        // RFC 4231 test case 2.
        let (key, data) = ("Jefe", b"what do ya want for nothing?");
        let hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert!(signature_ok(key, data, &format!("sha256={hex}")));
        assert!(signature_ok(key, data, &format!("sha256={}", hex.to_uppercase())));
        assert!(!signature_ok(key, b"other", &format!("sha256={hex}")));
        assert!(!signature_ok("other", data, &format!("sha256={hex}")));
        assert!(!signature_ok(key, data, hex));
        assert!(!signature_ok(key, data, &format!("sha256={}", &hex[2..])));
        assert!(!signature_ok(key, data, "sha256=zz"));
    }
}
