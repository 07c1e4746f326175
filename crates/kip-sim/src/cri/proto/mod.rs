//! The protobuf messages of the CRI `runtime.v1` API that kip-sim sends and reads, written as
//! prost structs so that building needs no `protoc`. Only the fields we use are declared: protobuf
//! skips unknown fields on decode, and absent fields read as their defaults on the server, so a
//! subset with the real field numbers is wire-compatible with the full API.

mod images;
mod pods;
mod sandboxes;

pub use images::*;
pub use pods::*;
pub use sandboxes::*;

/// `runtime.v1.VersionRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VersionRequest {
    /// Version of the kubelet runtime API the caller speaks.
    #[prost(string, tag = "1")]
    pub version: String,
}

/// `runtime.v1.VersionResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VersionResponse {
    #[prost(string, tag = "1")]
    pub version: String,
    #[prost(string, tag = "2")]
    pub runtime_name: String,
    #[prost(string, tag = "3")]
    pub runtime_version: String,
    #[prost(string, tag = "4")]
    pub runtime_api_version: String,
}

/// `runtime.v1.Int64Value`: an int64 that can be absent.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Int64Value {
    #[prost(int64, tag = "1")]
    pub value: i64,
}

/// `runtime.v1.UInt64Value`: a uint64 that can be absent.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct UInt64Value {
    #[prost(uint64, tag = "1")]
    pub value: u64,
}

/// `runtime.v1.KeyValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}
