use tabchain_core::SecretKey;

use super::*;

fn id(n: u8) -> NodeId {
    SecretKey::from_seed([n; 32]).public_key().node_id()
}

/// Two ids in order, so a test can say which one wins a glare.
fn ordered(a: u8, b: u8) -> (NodeId, NodeId) {
    let (x, y) = (id(a), id(b));
    if x < y {
        (x, y)
    } else {
        (y, x)
    }
}

fn drain(links: &mut Links) -> Vec<LinkAction> {
    std::iter::from_fn(|| links.poll_action()).collect()
}

fn offered(links: &mut Links, now: Timestamp, peer: NodeId) -> u64 {
    links.dial(now, peer);
    match drain(links).as_slice() {
        [LinkAction::Offer { session, .. }] => *session,
        other => panic!("expected one offer, got {other:?}"),
    }
}

const T0: Timestamp = Timestamp(1_000_000);

#[test]
fn a_dial_offers_and_sends_its_description_by_the_best_route() {
    let (me, peer) = (id(1), id(2));
    let mut links = Links::new(me, 7);
    links.server_joined([peer]);
    let session = offered(&mut links, T0, peer);
    links.described(peer, session, "offer-sdp".into());
    assert_eq!(
        drain(&mut links),
        [LinkAction::Send {
            peer,
            route: Route::Server,
            signal: Signal::Offer {
                session,
                sdp: "offer-sdp".into()
            }
        }]
    );
    assert_eq!(links.dialing().collect::<Vec<_>>(), [peer]);
}

#[test]
fn routes_prefer_this_browser_then_the_server_then_the_mesh() {
    let (me, peer) = (id(1), id(2));
    let mut links = Links::new(me, 7);
    assert_eq!(links.best_route(&peer), Route::Mesh);
    links.server_joined([]);
    links.server_peer_joined(peer);
    assert_eq!(links.best_route(&peer), Route::Server);
    links.local_here(peer);
    assert_eq!(links.best_route(&peer), Route::Local);
    links.local_gone(peer);
    assert_eq!(links.best_route(&peer), Route::Server);
    links.server_lost();
    assert_eq!(links.best_route(&peer), Route::Mesh);
    // A link keeps the route it started on: its answer comes back the same way.
    links.server_joined([peer]);
    let session = offered(&mut links, T0, peer);
    links.server_lost();
    links.described(peer, session, "sdp".into());
    assert!(matches!(
        drain(&mut links).as_slice(),
        [LinkAction::Send {
            route: Route::Server,
            ..
        }]
    ));
}

#[test]
fn in_a_glare_the_smaller_id_offer_wins_on_both_sides() {
    let (small, big) = ordered(1, 2);
    let mut at_small = Links::new(small, 1);
    let mut at_big = Links::new(big, 2);
    let small_session = offered(&mut at_small, T0, big);
    let big_session = offered(&mut at_big, T0, small);

    // The smaller id ignores the bigger one's offer: its own is the one that counts.
    at_small.handle_signal(
        T0,
        big,
        Route::Server,
        Signal::Offer {
            session: big_session,
            sdp: "big".into(),
        },
    );
    assert_eq!(drain(&mut at_small), []);
    assert_eq!(at_small.session(&big), Some(small_session));

    // The bigger id drops its own attempt (without telling the node it failed) and
    // answers.
    at_big.handle_signal(
        T0,
        small,
        Route::Server,
        Signal::Offer {
            session: small_session,
            sdp: "small".into(),
        },
    );
    assert_eq!(
        drain(&mut at_big),
        [
            LinkAction::Close {
                peer: small,
                session: big_session,
                grace: false
            },
            LinkAction::Answer {
                peer: small,
                session: small_session,
                sdp: "small".into()
            }
        ]
    );
    // The answering attempt still carries the node's dial: if it fails, it is told.
    at_big.handle_timeout(T0.saturating_add(DIAL_TIMEOUT_MS));
    assert!(drain(&mut at_big).contains(&LinkAction::Node(Event::DialFailed { peer: small })));
}

#[test]
fn an_offer_crossing_an_open_link_is_ignored() {
    let (me, peer) = (id(1), id(2));
    let mut links = Links::new(me, 7);
    let session = offered(&mut links, T0, peer);
    assert!(links.channel_open(peer, session));
    assert_eq!(drain(&mut links), [LinkAction::Opened { peer, session }]);
    links.handle_signal(
        T0,
        peer,
        Route::Mesh,
        Signal::Offer {
            session: 99,
            sdp: "again".into(),
        },
    );
    assert_eq!(drain(&mut links), []);
    assert!(links.is_open(&peer, session));
}

#[test]
fn late_answers_candidates_and_frames_of_an_old_session_are_dropped() {
    let (me, peer) = (id(1), id(2));
    let mut links = Links::new(me, 7);
    let old = offered(&mut links, T0, peer);
    links.handle_timeout(T0.saturating_add(DIAL_TIMEOUT_MS));
    drain(&mut links);
    let new = offered(&mut links, T0.saturating_add(DIAL_TIMEOUT_MS), peer);
    assert_ne!(old, new, "each attempt has its own session");

    let candidate = Candidate {
        candidate: "candidate:1 1 udp 1 10.0.0.1 5000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    };
    for session in [old, new] {
        links.handle_signal(
            T0,
            peer,
            Route::Server,
            Signal::Answer {
                session,
                sdp: "answer".into(),
            },
        );
        links.handle_signal(
            T0,
            peer,
            Route::Server,
            Signal::Candidate {
                session,
                candidate: candidate.clone(),
            },
        );
    }
    assert_eq!(
        drain(&mut links),
        [
            LinkAction::AcceptAnswer {
                peer,
                session: new,
                sdp: "answer".into()
            },
            LinkAction::AddCandidate {
                peer,
                session: new,
                candidate
            }
        ]
    );
    assert!(!links.channel_open(peer, old));
    links.transport_closed(peer, old, "late close of the old connection".into());
    assert_eq!(drain(&mut links), []);
    assert!(links.channel_open(peer, new));
}

#[test]
fn an_attempt_is_given_up_at_its_deadline_and_the_node_told() {
    let (me, peer) = (id(1), id(2));
    let mut links = Links::new(me, 7);
    let session = offered(&mut links, T0, peer);
    let deadline = T0.saturating_add(DIAL_TIMEOUT_MS);
    assert_eq!(links.poll_timeout(), Some(deadline));
    links.handle_timeout(Timestamp(deadline.0 - 1));
    assert_eq!(drain(&mut links), []);
    links.handle_timeout(deadline);
    assert_eq!(
        drain(&mut links),
        [
            LinkAction::Close {
                peer,
                session,
                grace: false
            },
            LinkAction::Node(Event::DialFailed { peer }),
            LinkAction::Ended {
                peer,
                reason: EndReason::DialTimeout
            }
        ]
    );
    assert_eq!(links.poll_timeout(), None);
}

#[test]
fn an_open_link_has_no_deadline_and_its_end_disconnects_the_peer() {
    let (me, peer) = (id(1), id(2));
    let mut links = Links::new(me, 7);
    links.server_joined([peer]);
    let session = offered(&mut links, T0, peer);
    links.channel_open(peer, session);
    drain(&mut links);
    assert_eq!(links.poll_timeout(), None);
    links.handle_timeout(T0.saturating_add(10 * DIAL_TIMEOUT_MS));
    assert_eq!(drain(&mut links), []);
    links.server_peer_left(peer);
    assert_eq!(
        drain(&mut links),
        [
            LinkAction::Close {
                peer,
                session,
                grace: false
            },
            LinkAction::Node(Event::PeerDisconnected { peer }),
            LinkAction::Ended {
                peer,
                reason: EndReason::LeftServer
            }
        ]
    );
    assert_eq!(links.best_route(&peer), Route::Mesh);
}

#[test]
fn a_link_the_node_closes_is_torn_down_gently_and_not_reported() {
    let (me, peer) = (id(1), id(2));
    let mut links = Links::new(me, 7);
    let session = offered(&mut links, T0, peer);
    links.channel_open(peer, session);
    drain(&mut links);
    links.close(&peer);
    assert_eq!(
        drain(&mut links),
        [LinkAction::Close {
            peer,
            session,
            grace: true
        }]
    );
    links.transport_closed(peer, session, "closed".into());
    assert_eq!(drain(&mut links), []);
}

#[test]
fn an_unreachable_peer_fails_the_dial() {
    let (me, peer) = (id(1), id(2));
    let mut links = Links::new(me, 7);
    offered(&mut links, T0, peer);
    links.unreachable(peer, "no route through the mesh".into());
    let actions = drain(&mut links);
    assert!(actions.contains(&LinkAction::Node(Event::DialFailed { peer })));
    assert!(actions.contains(&LinkAction::Ended {
        peer,
        reason: EndReason::Unreachable("no route through the mesh".into())
    }));
}

#[test]
fn an_answered_offer_does_not_report_a_dial_the_node_never_made() {
    let (me, peer) = (id(1), id(2));
    let mut links = Links::new(me, 7);
    links.handle_signal(
        T0,
        peer,
        Route::Local,
        Signal::Offer {
            session: 5,
            sdp: "offer".into(),
        },
    );
    links.described(peer, 5, "answer".into());
    assert_eq!(
        drain(&mut links),
        [
            LinkAction::Answer {
                peer,
                session: 5,
                sdp: "offer".into()
            },
            LinkAction::Send {
                peer,
                route: Route::Local,
                signal: Signal::Answer {
                    session: 5,
                    sdp: "answer".into()
                }
            }
        ]
    );
    links.transport_closed(peer, 5, "ICE failed".into());
    assert_eq!(
        drain(&mut links),
        [
            LinkAction::Close {
                peer,
                session: 5,
                grace: false
            },
            LinkAction::Ended {
                peer,
                reason: EndReason::Transport("ICE failed".into())
            }
        ]
    );
}

#[test]
fn a_forged_goodbye_on_the_channel_ends_no_link_and_forged_tabs_are_bounded() {
    // Tried: a page of the same origin posts `bye` in the name of a linked peer, then
    // announces more tabs than any browser holds.
    let (me, peer) = (id(1), id(2));
    let mut links = Links::new(me, 7);
    links.local_here(peer);
    let session = offered(&mut links, T0, peer);
    links.channel_open(peer, session);
    drain(&mut links);
    links.local_gone(peer);
    assert_eq!(drain(&mut links), []);
    assert!(links.is_open(&peer, session));
    for n in 0..=255u8 {
        let mut seed = [9; 32];
        seed[0] = n;
        links.local_here(SecretKey::from_seed(seed).public_key().node_id());
    }
    assert_eq!(links.local_tabs(), MAX_LOCAL_TABS);
    links.server_joined([]);
    for n in 0..2_000u16 {
        let mut seed = [3; 32];
        seed[..2].copy_from_slice(&n.to_le_bytes());
        links.server_peer_joined(SecretKey::from_seed(seed).public_key().node_id());
    }
    assert!(links.server.as_ref().unwrap().len() <= MAX_ROOM_PEERS);
}

#[test]
fn no_link_to_itself() {
    let me = id(1);
    let mut links = Links::new(me, 7);
    links.dial(T0, me);
    links.handle_signal(
        T0,
        me,
        Route::Local,
        Signal::Offer {
            session: 1,
            sdp: "x".into(),
        },
    );
    links.local_here(me);
    assert_eq!(drain(&mut links), []);
    assert_eq!(links.local_tabs(), 0);
}

#[test]
fn offers_through_the_mesh_are_rate_limited() {
    // A peer relaying offers in a hundred made-up names at once: without a limit each
    // became an `Answer`, an RTCPeerConnection with ICE and DTLS keys.
    let mut links = Links::new(id(1), 7);
    let now = Timestamp(1_000);
    for n in 0..100u8 {
        let signal = Signal::Offer {
            session: u64::from(n),
            sdp: "offer".into(),
        };
        links.handle_signal(now, id(100 + n), Route::Mesh, signal);
    }
    let actions = drain(&mut links);
    let answers = |actions: &[LinkAction]| {
        actions
            .iter()
            .filter(|a| matches!(a, LinkAction::Answer { .. }))
            .count()
    };
    assert_eq!(answers(&actions), MAX_UNSOLICITED_ANSWERS);
    assert!(actions.iter().any(|a| matches!(
        a,
        LinkAction::Ended {
            reason: EndReason::OfferLimit(Route::Mesh),
            ..
        }
    )));
    // Once those attempts end, the budget lets offers in at its rate, not all at once.
    let later = now.saturating_add(DIAL_TIMEOUT_MS);
    links.handle_timeout(later);
    drain(&mut links);
    for n in 0..20u8 {
        let signal = Signal::Offer {
            session: 1_000 + u64::from(n),
            sdp: "offer".into(),
        };
        links.handle_signal(later, id(200 + n), Route::Local, signal);
    }
    let rate = OFFERS_PER_SEC as usize * (DIAL_TIMEOUT_MS / 1_000) as usize;
    assert_eq!(answers(&drain(&mut links)), rate.min(OFFER_BURST as usize));
    // The signaling server's offers are its own business: it limits each socket.
    links.handle_signal(
        later,
        id(99),
        Route::Server,
        Signal::Offer {
            session: 5,
            sdp: "offer".into(),
        },
    );
    assert_eq!(answers(&drain(&mut links)), 1);
}

#[test]
fn nostr_relays_only_bootstrap_and_their_offers_are_rate_limited() {
    let (me, a, b) = (id(1), id(2), id(3));
    let mut links = Links::new(me, 7);
    links.nostr_here(a);
    links.nostr_here(b);
    links.nostr_here(me);
    assert_eq!(links.best_route(&a), Route::Nostr);
    // The server's room, when there is one, comes first.
    links.server_joined([b]);
    assert_eq!(links.best_route(&b), Route::Server);
    links.server_lost();
    // Once one link is open, further links go through the mesh.
    let session = offered(&mut links, T0, a);
    links.channel_open(a, session);
    drain(&mut links);
    assert!(links.any_open());
    assert_eq!(links.best_route(&b), Route::Mesh);
    links.nostr_gone(b);
    links.transport_closed(a, session, "closed".into());
    assert_eq!(links.best_route(&b), Route::Mesh, "b said goodbye");
    assert_eq!(links.best_route(&a), Route::Nostr, "no link again");
    // Anyone can publish offers on a relay: they share the budget of the mesh's.
    for n in 0..40u8 {
        let offer = Signal::Offer {
            session: u64::from(n),
            sdp: "offer".into(),
        };
        links.handle_signal(T0, id(100 + n), Route::Nostr, offer);
    }
    let answers = drain(&mut links)
        .iter()
        .filter(|a| matches!(a, LinkAction::Answer { .. }))
        .count();
    assert_eq!(answers, MAX_UNSOLICITED_ANSWERS);
}
