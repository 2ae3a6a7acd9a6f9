//! The API's description is committed (`docs/openapi.json`): integrators and reviewers see every
//! change to the API in a diff. This test fails when the served document and the committed one
//! differ; `UPDATE_OPENAPI=1 cargo test -p loyalty-server --test openapi` rewrites the file.

use std::path::PathBuf;

#[test]
fn the_committed_openapi_document_is_the_one_the_server_serves() {
    let served = serde_json::to_value(loyalty_server::openapi_document()).expect("serialise");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&served).expect("pretty") + "\n";
        std::fs::write(&path, text).expect("write docs/openapi.json");
        return;
    }
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("docs/openapi.json exists"))
            .expect("docs/openapi.json is JSON");
    assert!(
        committed == served,
        "docs/openapi.json differs from the served document; run \
         UPDATE_OPENAPI=1 cargo test -p loyalty-server --test openapi and commit the change"
    );
}
