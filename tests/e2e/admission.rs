//! Admission of queries: the per-user cap, turns taken round-robin by user (not one FIFO for everybody), the
//! queue's capacity and timeout, and slots handed on when a waiter gives up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tabletalk_ports::{QueryError, UserId};
use tabletalk_query_engine::engine::{Admission, AdmissionLimits};

fn admission(capacity: usize, per_owner: usize) -> Arc<Admission> {
    Arc::new(Admission::new(AdmissionLimits {
        capacity,
        per_owner,
        queue_capacity: 16,
        queue_timeout: Duration::from_secs(5),
    }))
}

/// Waits until `waiting` requests are queued.
async fn until_waiting(admission: &Admission, waiting: usize) {
    while admission.load().1 < waiting {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn waiting_users_take_turns_instead_of_queueing_behind_one_user() {
    let admission = admission(1, 1);
    let (alice, bob) = (UserId::new(), UserId::new());
    let first = admission.enter(alice).await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    // Alice queues three more before Bob queues one.
    for (who, label) in [(alice, "a2"), (alice, "a3"), (alice, "a4"), (bob, "b1")] {
        let shared = admission.clone();
        let order = order.clone();
        waiters.push(tokio::spawn(async move {
            let _slot = shared.enter(who).await.unwrap();
            order.lock().unwrap().push(label);
            tokio::task::yield_now().await;
        }));
        until_waiting(&admission, waiters.len()).await;
    }
    drop(first);
    for waiter in waiters {
        waiter.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), ["a2", "b1", "a3", "a4"]);
    assert_eq!(admission.load(), (0, 0));
}

#[tokio::test]
async fn one_user_never_holds_more_than_the_per_user_cap() {
    let admission = admission(3, 2);
    let (alice, bob) = (UserId::new(), UserId::new());
    let one = admission.enter(alice).await.unwrap();
    let _two = admission.enter(alice).await.unwrap();
    let third = tokio::spawn({
        let admission = admission.clone();
        async move { admission.enter(alice).await.map(drop) }
    });
    until_waiting(&admission, 1).await;
    assert_eq!(
        admission.load(),
        (2, 1),
        "a slot is free, but not for alice"
    );
    let bobs = admission.enter(bob).await.unwrap();
    assert_eq!(admission.load(), (3, 1));
    drop(bobs);
    assert_eq!(admission.load(), (2, 1), "bob's slot is still not alice's");
    drop(one);
    third.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_full_queue_and_a_long_wait_answer_busy_and_leave_nothing_behind() {
    let admission = Arc::new(Admission::new(AdmissionLimits {
        capacity: 1,
        per_owner: 1,
        queue_capacity: 1,
        queue_timeout: Duration::from_millis(200),
    }));
    let running = admission.enter(UserId::new()).await.unwrap();
    let waiter = tokio::spawn({
        let admission = admission.clone();
        async move { admission.enter(UserId::new()).await.map(drop) }
    });
    until_waiting(&admission, 1).await;
    assert_eq!(
        admission.enter(UserId::new()).await.map(drop),
        Err(QueryError::Busy),
        "the queue is full"
    );
    assert_eq!(
        waiter.await.unwrap(),
        Err(QueryError::Busy),
        "the wait ran out"
    );
    assert_eq!(admission.load(), (1, 0));
    // A caller that goes away while waiting leaves the queue too.
    let gone = tokio::spawn({
        let admission = admission.clone();
        async move { admission.enter(UserId::new()).await.map(drop) }
    });
    until_waiting(&admission, 1).await;
    gone.abort();
    let _ = gone.await;
    assert_eq!(admission.load(), (1, 0));
    drop(running);
    assert_eq!(admission.load(), (0, 0));
    assert!(admission.enter(UserId::new()).await.is_ok());
}
