//! Response bodies: `Status` errors, single objects and lists in the representation the client
//! negotiated. Lists are streamed in chunks straight from the stored `Arc<Value>`s, so a list of
//! thousands of large objects is never copied or buffered whole.

use std::ops::Range;
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};

use super::negotiate::Output;
use super::table::{IncludeObject, TableBuilder, partial_metadata};
use crate::error::ApiError;
use crate::resources::ResourceType;

pub type Response = http::Response<Body>;

const JSON: &str = "application/json";
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
const METADATA: &str = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io";
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io";
/// Objects serialized per chunk of a streamed list.
const CHUNK: usize = 128;

fn with_body(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The `kind: Status` body of an error, with `Retry-After` when it has one.
pub fn error(err: &ApiError) -> Response {
    let body = serde_json::to_vec(&err.to_status()).unwrap_or_default();
    let mut response = with_body(err.status_code(), JSON, Body::from(body));
    if let Some(seconds) = err.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

pub fn json(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => with_body(status, JSON, Body::from(body)),
        Err(e) => error(&ApiError::internal(format!("encoding the response failed: {e}"))),
    }
}

pub fn text(status: StatusCode, body: &'static str) -> Response {
    with_body(status, "text/plain; charset=utf-8", Body::from(body))
}

fn yaml(status: StatusCode, value: &Value) -> Response {
    match serde_saphyr::to_string(value) {
        Ok(body) => with_body(status, "application/yaml", Body::from(body)),
        Err(e) => error(&ApiError::internal(format!("encoding the response as YAML failed: {e}"))),
    }
}

/// One object, as negotiated.
pub fn object(status: StatusCode, obj: &Value, rt: &ResourceType, output: Output, include: IncludeObject) -> Response {
    match output {
        Output::Json => json(status, obj),
        Output::Yaml => yaml(status, obj),
        Output::Metadata => match serde_json::to_vec(&partial_metadata(obj)) {
            Ok(body) => with_body(status, METADATA, Body::from(body)),
            Err(e) => error(&ApiError::internal(e.to_string())),
        },
        Output::Table => {
            let builder = TableBuilder::new(rt, include);
            let rv = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
            let table = builder.table(vec![builder.row(obj)], json!({"resourceVersion": rv}));
            match serde_json::to_vec(&table) {
                Ok(body) => with_body(status, TABLE, Body::from(body)),
                Err(e) => error(&ApiError::internal(e.to_string())),
            }
        }
    }
}

/// The metadata of a list response.
#[derive(Clone, Debug, Default)]
pub struct ListMeta {
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining_item_count: Option<u64>,
}

impl ListMeta {
    pub fn to_json(&self) -> Value {
        let mut meta = json!({"resourceVersion": self.resource_version.to_string()});
        if let Some(token) = &self.continue_token {
            meta["continue"] = json!(token);
        }
        if let Some(remaining) = self.remaining_item_count {
            meta["remainingItemCount"] = json!(remaining);
        }
        meta
    }
}

/// `items[range]` as a list of `rt`, streamed.
pub fn list(
    rt: &ResourceType,
    items: Arc<Vec<Arc<Value>>>,
    range: Range<usize>,
    meta: &ListMeta,
    output: Output,
    include: IncludeObject,
) -> Response {
    match output {
        Output::Json => {
            let head = json!({"kind": rt.list_kind(), "apiVersion": rt.api_version(), "metadata": meta.to_json()});
            let encode = |obj: &Value, out: &mut Vec<u8>| serde_json::to_writer(out, obj);
            with_body(StatusCode::OK, JSON, stream_array(head, "items", items, range, encode))
        }
        Output::Metadata => {
            let head = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta.to_json()});
            let encode = |obj: &Value, out: &mut Vec<u8>| serde_json::to_writer(out, &partial_metadata(obj));
            with_body(StatusCode::OK, METADATA_LIST, stream_array(head, "items", items, range, encode))
        }
        Output::Table => {
            let builder = Arc::new(TableBuilder::new(rt, include));
            let head = json!({
                "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta.to_json(),
                "columnDefinitions": builder.column_definitions(),
            });
            let encode = move |obj: &Value, out: &mut Vec<u8>| serde_json::to_writer(out, &builder.row(obj));
            with_body(StatusCode::OK, TABLE, stream_array(head, "rows", items, range, encode))
        }
        Output::Yaml => {
            let list = json!({
                "kind": rt.list_kind(), "apiVersion": rt.api_version(), "metadata": meta.to_json(),
                "items": items[range].iter().map(|o| (**o).clone()).collect::<Vec<_>>(),
            });
            yaml(StatusCode::OK, &list)
        }
    }
}

/// Streams `head` with one more array field, `field`, holding the encoded `items[range]`.
fn stream_array<F>(head: Value, field: &str, items: Arc<Vec<Arc<Value>>>, range: Range<usize>, encode: F) -> Body
where
    F: Fn(&Value, &mut Vec<u8>) -> serde_json::Result<()> + Send + Sync + 'static,
{
    let mut prefix = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
    // `head` is an object: reopen it to append the array.
    prefix.pop();
    if head.as_object().is_some_and(|o| !o.is_empty()) {
        prefix.push(b',');
    }
    prefix.extend_from_slice(format!("\"{field}\":[").as_bytes());
    let starts: Vec<usize> = range.clone().step_by(CHUNK).collect();
    let end = range.end;
    let chunks = futures::stream::iter(starts).map(move |start| {
        let mut out = Vec::with_capacity(16 * 1024);
        for i in start..(start + CHUNK).min(end) {
            if i > range.start {
                out.push(b',');
            }
            encode(&items[i], &mut out).map_err(std::io::Error::other)?;
        }
        Ok::<_, std::io::Error>(Bytes::from(out))
    });
    let stream = futures::stream::once(async move { Ok(Bytes::from(prefix)) })
        .chain(chunks)
        .chain(futures::stream::once(async { Ok(Bytes::from_static(b"]}")) }));
    Body::from_stream(stream)
}
