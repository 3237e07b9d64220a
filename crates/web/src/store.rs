//! Blocks in IndexedDB: one database per network (room and rules), shared by the tabs of
//! one browser profile, one object store of [`crate::record`]s. A write is done when its
//! transaction commits, and its failure (the quota, a private window, a database closed
//! under it) comes back by name: the page only claims what was written.

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, IdbDatabase, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

use crate::js::window;

const BLOCKS: &str = "blocks";

/// Stored records as (key, bytes).
pub type Records = Vec<(String, Vec<u8>)>;

#[derive(Debug, Clone)]
pub struct Store {
    db: IdbDatabase,
}

impl Store {
    /// Opens (or creates) the database `name`.
    pub async fn open(name: &str) -> Result<Store, JsValue> {
        Ok(Store {
            db: open_database(name, &[BLOCKS]).await?,
        })
    }

    pub async fn load(&self) -> Result<Records, JsValue> {
        let store = self.db.transaction_with_str(BLOCKS)?.object_store(BLOCKS)?;
        let keys = store.get_all_keys()?;
        let values = store.get_all()?;
        let keys: Array = finished(&keys).await?.dyn_into()?;
        let values: Array = finished(&values).await?.dyn_into()?;
        Ok(keys
            .iter()
            .zip(values.iter())
            .map(|(key, value)| {
                let bytes = value
                    .dyn_into::<Uint8Array>()
                    .map(|array| array.to_vec())
                    .unwrap_or_default();
                (key.as_string().unwrap_or_default(), bytes)
            })
            .collect())
    }

    /// Writes records in one transaction; done when it has committed.
    pub async fn put_all(&self, records: &[(String, Vec<u8>)]) -> Result<(), String> {
        let write = async {
            let tx = self
                .db
                .transaction_with_str_and_mode(BLOCKS, IdbTransactionMode::Readwrite)?;
            let store = tx.object_store(BLOCKS)?;
            for (key, bytes) in records {
                store.put_with_key(&Uint8Array::from(&bytes[..]), &JsValue::from_str(key))?;
            }
            committed(&tx).await
        };
        write.await.map_err(|err| error_name(&err))
    }

    pub fn delete(&self, key: &str) {
        let _ = self
            .db
            .transaction_with_str_and_mode(BLOCKS, IdbTransactionMode::Readwrite)
            .and_then(|tx| tx.object_store(BLOCKS))
            .and_then(|store| store.delete(&JsValue::from_str(key)));
    }
}

/// Opens (or creates, with `stores`) the database `name` at version 1.
pub async fn open_database(
    name: &str,
    stores: &'static [&'static str],
) -> Result<IdbDatabase, JsValue> {
    let factory = window()
        .indexed_db()?
        .ok_or_else(|| JsValue::from_str("this browser has no IndexedDB"))?;
    let request: IdbOpenDbRequest = factory.open_with_u32(name, 1)?;
    let upgrade = Closure::<dyn FnMut(JsValue)>::new({
        let request = request.clone();
        move |_| {
            if let Ok(db) = request.result().and_then(|db| db.dyn_into::<IdbDatabase>()) {
                for store in stores {
                    let _ = db.create_object_store(store);
                }
            }
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    // Another tab holding the database at an older version blocks the open: fail with a
    // name rather than wait in silence (the page then says blocks are not stored).
    let done = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
        request.set_onblocked(Some(&reject));
    });
    let outcome = JsFuture::from(done).await;
    request.set_onupgradeneeded(None);
    request.set_onsuccess(None);
    request.set_onerror(None);
    request.set_onblocked(None);
    match outcome {
        Ok(_) => request.result()?.dyn_into(),
        Err(_) => Err(request.error().ok().flatten().map(JsValue::from).unwrap_or_else(|| {
            JsValue::from_str(
                "BlockedError: another tab of this page keeps an older version of the database open; close it",
            )
        })),
    }
}

/// Waits for a transaction to commit, or for its error.
pub async fn committed(tx: &IdbTransaction) -> Result<(), JsValue> {
    let done = Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    let outcome = JsFuture::from(done).await;
    tx.set_oncomplete(None);
    tx.set_onerror(None);
    tx.set_onabort(None);
    outcome.map(|_| ()).map_err(|_| {
        tx.error()
            .map(JsValue::from)
            .unwrap_or_else(|| JsValue::from_str("the transaction was aborted"))
    })
}

/// A failure as the page says it: the DOMException's name (`QuotaExceededError`,
/// `InvalidStateError`, ...) and its message.
pub fn error_name(err: &JsValue) -> String {
    match err.dyn_ref::<DomException>() {
        Some(ex) if ex.message().is_empty() => ex.name(),
        Some(ex) => format!("{}: {}", ex.name(), ex.message()),
        None => crate::rtc::describe(err),
    }
}

/// Waits for an IndexedDB request and returns its result.
pub async fn finished(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let done = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(done).await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    match outcome {
        Ok(_) => request.result(),
        Err(_) => Err(request
            .error()
            .ok()
            .flatten()
            .map(JsValue::from)
            .unwrap_or_else(|| JsValue::from_str("IndexedDB request failed"))),
    }
}
