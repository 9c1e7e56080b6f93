//! JSON on the hot path, both ways, held to `serde_json` byte for byte: [`scan`] reads a
//! post payload in one pass (worth 65 % of the handler's time: 1.12 ms against
//! serde_json's 2.93 ms on a full 3 MB buffer whose handler takes 2.78 ms,
//! `cargo bench -p transform --bench transform -- parse_3mb`), `write` writes a
//! document's strings, numbers and lists, and `escape` finds the bytes in a string that
//! end it or need an escape, with the CPU's vector unit. `keys` lists the keys each kind
//! of object has, in source order.

pub(crate) mod escape;
mod keys;
pub mod scan;
pub(crate) mod write;
