//! Content negotiation: which representation a client accepts (JSON, YAML, a `Table`, partial
//! object metadata) and how request bodies are decoded. Only JSON and YAML are spoken;
//! protobuf bodies get 415 and a protobuf-only `Accept` gets 406, as a server without that
//! codec answers.

use http::HeaderMap;
use serde_json::Value;

use crate::error::ApiError;

/// The representation of a response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
    /// `as=Table;g=meta.k8s.io;v=v1` (or `v1beta1`): rows for kubectl.
    Table,
    /// `as=PartialObjectMetadata` / `as=PartialObjectMetadataList`: metadata only.
    Metadata,
}

/// Picks the first representation in `Accept` that the server can produce.
pub fn output(headers: &HeaderMap) -> Result<Output, ApiError> {
    let Some(accept) = headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Output::Json);
    };
    if accept.trim().is_empty() {
        return Ok(Output::Json);
    }
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut as_kind = None;
        let mut group = None;
        for param in parts {
            if let Some((k, v)) = param.split_once('=') {
                match k.trim() {
                    "as" => as_kind = Some(v.trim().to_string()),
                    "g" => group = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        let json_like = matches!(media.as_str(), "application/json" | "*/*" | "application/*");
        match as_kind.as_deref() {
            None if json_like => return Ok(Output::Json),
            None if media == "application/yaml" => return Ok(Output::Yaml),
            Some("Table") if json_like && group.as_deref() == Some("meta.k8s.io") => return Ok(Output::Table),
            Some("PartialObjectMetadata" | "PartialObjectMetadataList")
                if json_like && group.as_deref() == Some("meta.k8s.io") =>
            {
                return Ok(Output::Metadata);
            }
            // Aggregated discovery and anything else: try the next entry.
            _ => {}
        }
    }
    Err(ApiError::new(
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io",
    ))
}

/// The media type of a request body, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decodes the body of a create or update: JSON, or YAML.
pub fn decode_object(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type(headers);
    let value: Value = match media.as_str() {
        "" | "application/json" | "*/*" => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("the request body is not valid UTF-8 YAML"))?;
            serde_saphyr::from_str(text)
                .map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))?
        }
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    if !value.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    Ok(value)
}

/// Protobuf is the one format real clients may send that this server does not decode.
pub fn reject_protobuf(headers: &HeaderMap) -> Result<(), ApiError> {
    let media = content_type(headers);
    if media == "application/vnd.kubernetes.protobuf" {
        return Err(ApiError::unsupported_media_type(&media));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accept(value: &str) -> Result<Output, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::ACCEPT, HeaderValue::from_str(value).expect("header"));
        output(&headers)
    }

    #[test]
    fn accept_picks_the_first_representation_we_produce() {
        let cases = [
            ("application/json", Output::Json),
            ("*/*", Output::Json),
            ("application/yaml", Output::Yaml),
            (
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
                Output::Table,
            ),
            ("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1", Output::Metadata),
            (
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
                Output::Json,
            ),
            ("application/vnd.kubernetes.protobuf, application/json", Output::Json),
        ];
        for (header, want) in cases {
            assert_eq!(accept(header).expect(header), want, "{header}");
        }
        assert_eq!(output(&HeaderMap::new()).expect("no accept"), Output::Json);
    }

    #[test]
    fn protobuf_only_is_not_acceptable() {
        let err = accept("application/vnd.kubernetes.protobuf").expect_err("protobuf");
        assert_eq!((err.code, err.reason), (406, "NotAcceptable"));
        let err = accept("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList").expect_err("aggr");
        assert_eq!(err.code, 406);
    }

    #[test]
    fn bodies_decode_from_json_and_yaml_and_not_protobuf() {
        let mut headers = HeaderMap::new();
        assert_eq!(decode_object(&headers, br#"{"a":1}"#).expect("json")["a"], 1);
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/yaml"));
        assert_eq!(decode_object(&headers, b"a: 1\nb: [x]\n").expect("yaml")["b"][0], "x");
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.kubernetes.protobuf"));
        assert_eq!(decode_object(&headers, b"k8s\0").expect_err("protobuf").code, 415);
        assert_eq!(reject_protobuf(&headers).expect_err("protobuf").code, 415);
    }
}
