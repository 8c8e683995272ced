//! The parts of the benches that their binaries share: the Lambda Runtime API stub
//! (`make bench`, `make bench-scale`) and the account-scale bench (`make bench-scale`).

pub mod runtime_stub;
pub mod scale;
