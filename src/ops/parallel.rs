//! Work on several loads at once: each item its own task (so parsing uses every core), at most
//! `limit` running, results in the items' order. A task that panics is that item's error, never
//! the others'. Dropping the returned future aborts what still runs.

use std::future::Future;

use tokio::task::JoinSet;

/// Runs `work` on every item, at most `limit` at once; `Err` holds why an item's task ended
/// without a result (a panic).
pub async fn each<T, R, F, Fut>(limit: usize, items: Vec<T>, work: F) -> Vec<Result<R, String>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    let count = items.len();
    let mut results: Vec<Option<Result<R, String>>> = (0..count).map(|_| None).collect();
    let mut running = JoinSet::new();
    let mut index_of = std::collections::HashMap::new();
    let mut pending = items.into_iter().enumerate();
    loop {
        while running.len() < limit.max(1) {
            let Some((i, item)) = pending.next() else {
                break;
            };
            let handle = running.spawn(work(item));
            index_of.insert(handle.id(), i);
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        let (id, result) = match joined {
            Ok((id, value)) => (id, Ok(value)),
            Err(error) => (error.id(), Err(format!("the task ended: {error}"))),
        };
        if let Some(i) = index_of.remove(&id) {
            results[i] = Some(result);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("the task never ran".into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::each;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_limit_run_at_once_results_in_order_and_a_panic_stays_its_own() {
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let results = each(3, (0..10u64).collect(), |i| {
            let (now, most) = (now.clone(), most.clone());
            async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(running, Ordering::SeqCst);
                // Later items finish first: order comes from the items, not completion.
                tokio::time::sleep(Duration::from_millis(30 - 2 * i)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                assert_ne!(i, 4, "item 4 fails");
                i * 10
            }
        })
        .await;
        assert_eq!(most.load(Ordering::SeqCst), 3);
        for (i, result) in results.iter().enumerate() {
            match (i, result) {
                (4, Err(why)) => assert!(why.contains("panic"), "{why}"),
                (i, Ok(value)) => assert_eq!(*value, i as u64 * 10),
                (i, other) => panic!("item {i}: {other:?}"),
            }
        }
    }
}
