//! Who is in which room: the pure bookkeeping behind the server, with its limits.
//!
//! Generic over what the server keeps per peer (its outgoing queue), so the rules are
//! unit-tested here without sockets. The socket loop holds this behind one mutex and
//! queues `welcome`, `peer_joined` and `peer_left` while it holds it, so everyone in a
//! room sees joins and leaves in the same order, and no signal reaches a tab before
//! its `welcome`.
//!
//! Each member also carries its client address, and a room takes at most
//! `max_per_address` members from one address, fewer than the room holds: a student
//! who fills a room with made-up identities (a key is free) takes only that address's
//! share, and the rest of the class, on other addresses, still gets in.

use std::collections::HashMap;

use tabchain_core::NodeId;
use tabchain_signal::{ErrorCode, RoomName};

use crate::admission::Address;

/// Why a peer may not join a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("a peer with this id is already in the room")]
    DuplicatePeer,
    #[error("the room is full ({0} peers)")]
    RoomFull(usize),
    #[error("the server holds its maximum of {0} rooms")]
    TooManyRooms(usize),
    #[error("{address} already has {max} peers in this room")]
    AddressFull { address: Address, max: usize },
}

impl JoinError {
    pub fn code(self) -> ErrorCode {
        match self {
            JoinError::DuplicatePeer => ErrorCode::DuplicatePeer,
            // The protocol has no code of its own for this (its codes are shared with
            // the tabs): to a tab it is a room with no place for it.
            JoinError::RoomFull(_) | JoinError::AddressFull { .. } => ErrorCode::RoomFull,
            JoinError::TooManyRooms(_) => ErrorCode::TooManyRooms,
        }
    }
}

/// The rooms and their members. A room exists while it has a member.
#[derive(Debug)]
pub struct Rooms<P> {
    rooms: HashMap<RoomName, Room<P>>,
    peers: usize,
    max_rooms: usize,
    max_peers_per_room: usize,
    max_per_address: usize,
}

#[derive(Debug)]
struct Room<P> {
    members: HashMap<NodeId, (Address, P)>,
    // Members by address; an address with none has no entry.
    by_address: HashMap<Address, usize>,
}

impl<P> Room<P> {
    fn new() -> Room<P> {
        Room {
            members: HashMap::new(),
            by_address: HashMap::new(),
        }
    }
}

impl<P> Rooms<P> {
    /// `max_per_address`: members of one room from one client address.
    pub fn new(max_rooms: usize, max_peers_per_room: usize, max_per_address: usize) -> Rooms<P> {
        Rooms {
            rooms: HashMap::new(),
            peers: 0,
            max_rooms,
            max_peers_per_room,
            max_per_address,
        }
    }

    // Getters.

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub fn peer_count(&self) -> usize {
        self.peers
    }

    pub fn peer(&self, room: &RoomName, id: &NodeId) -> Option<&P> {
        self.rooms.get(room)?.members.get(id).map(|(_, peer)| peer)
    }

    /// Everyone in `room` but `id`.
    pub fn others<'a>(
        &'a self,
        room: &RoomName,
        id: &'a NodeId,
    ) -> impl Iterator<Item = (&'a NodeId, &'a P)> + 'a {
        self.rooms
            .get(room)
            .into_iter()
            .flat_map(|room| &room.members)
            .filter(move |(other, _)| *other != id)
            .map(|(other, (_, peer))| (other, peer))
    }

    // Commands.

    /// Puts `id`, connected from `address`, in `room`, opening the room if need be.
    pub fn join(
        &mut self,
        room: &RoomName,
        id: NodeId,
        address: Address,
        peer: P,
    ) -> Result<(), JoinError> {
        let members = match self.rooms.get_mut(room) {
            Some(members) => {
                if members.members.contains_key(&id) {
                    return Err(JoinError::DuplicatePeer);
                }
                // A full room says so to everyone alike; an address's share only
                // matters while the room has places.
                if members.members.len() >= self.max_peers_per_room {
                    return Err(JoinError::RoomFull(self.max_peers_per_room));
                }
                if members.by_address.get(&address).copied().unwrap_or(0) >= self.max_per_address {
                    return Err(JoinError::AddressFull {
                        address,
                        max: self.max_per_address,
                    });
                }
                members
            }
            None => {
                if self.rooms.len() >= self.max_rooms {
                    return Err(JoinError::TooManyRooms(self.max_rooms));
                }
                self.rooms.entry(room.clone()).or_insert_with(Room::new)
            }
        };
        members.members.insert(id, (address, peer));
        *members.by_address.entry(address).or_insert(0) += 1;
        self.peers += 1;
        Ok(())
    }

    /// Takes `id` out of `room`, closing the room if it was the last one there.
    pub fn leave(&mut self, room: &RoomName, id: &NodeId) -> Option<P> {
        let members = self.rooms.get_mut(room)?;
        let (address, peer) = members.members.remove(id)?;
        if let Some(held) = members.by_address.get_mut(&address) {
            *held -= 1;
            if *held == 0 {
                members.by_address.remove(&address);
            }
        }
        if members.members.is_empty() {
            self.rooms.remove(room);
        }
        self.peers -= 1;
        Some(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::SecretKey;

    fn id(n: u8) -> NodeId {
        SecretKey::from_seed([n; 32]).public_key().node_id()
    }

    /// The address of most tests' peers.
    const HOME: Address = Address::LOOPBACK;

    fn room(name: &str) -> RoomName {
        name.parse().unwrap()
    }

    fn others(rooms: &Rooms<u8>, name: &str, me: u8) -> Vec<u8> {
        let me = id(me);
        let mut found: Vec<u8> = rooms.others(&room(name), &me).map(|(_, p)| *p).collect();
        found.sort();
        found
    }

    #[test]
    fn members_see_each_other_and_only_their_room() {
        let mut rooms = Rooms::new(10, 10, 10);
        rooms.join(&room("a"), id(1), HOME, 1).unwrap();
        rooms.join(&room("a"), id(2), HOME, 2).unwrap();
        rooms.join(&room("b"), id(3), HOME, 3).unwrap();
        assert_eq!(others(&rooms, "a", 1), [2]);
        assert_eq!(others(&rooms, "a", 3), [1, 2]);
        assert_eq!(others(&rooms, "b", 3), Vec::<u8>::new());
        assert_eq!(rooms.peer(&room("a"), &id(2)), Some(&2));
        assert_eq!(rooms.peer(&room("b"), &id(2)), None);
        assert_eq!((rooms.room_count(), rooms.peer_count()), (2, 3));
    }

    #[test]
    fn the_same_id_joins_a_room_once_but_may_be_in_two_rooms() {
        let mut rooms = Rooms::new(10, 10, 10);
        rooms.join(&room("a"), id(1), HOME, 1).unwrap();
        assert_eq!(
            rooms.join(&room("a"), id(1), HOME, 9),
            Err(JoinError::DuplicatePeer)
        );
        assert_eq!(rooms.peer(&room("a"), &id(1)), Some(&1));
        rooms.join(&room("b"), id(1), HOME, 2).unwrap();
        assert_eq!(rooms.peer_count(), 2);
    }

    #[test]
    fn a_full_room_refuses_and_frees_a_place_when_someone_leaves() {
        let mut rooms = Rooms::new(10, 2, 10);
        rooms.join(&room("a"), id(1), HOME, 1).unwrap();
        rooms.join(&room("a"), id(2), HOME, 2).unwrap();
        assert_eq!(
            rooms.join(&room("a"), id(3), HOME, 3),
            Err(JoinError::RoomFull(2))
        );
        assert_eq!(rooms.leave(&room("a"), &id(1)), Some(1));
        rooms.join(&room("a"), id(3), HOME, 3).unwrap();
        assert_eq!(others(&rooms, "a", 9), [2, 3]);
    }

    #[test]
    fn the_room_limit_counts_open_rooms_and_existing_rooms_stay_joinable() {
        let mut rooms = Rooms::new(2, 10, 10);
        rooms.join(&room("a"), id(1), HOME, 1).unwrap();
        rooms.join(&room("b"), id(2), HOME, 2).unwrap();
        assert_eq!(
            rooms.join(&room("c"), id(3), HOME, 3),
            Err(JoinError::TooManyRooms(2))
        );
        rooms.join(&room("a"), id(3), HOME, 3).unwrap();
        rooms.leave(&room("b"), &id(2));
        rooms.join(&room("c"), id(4), HOME, 4).unwrap();
    }

    #[test]
    fn the_last_one_out_closes_the_room() {
        let mut rooms = Rooms::new(10, 10, 10);
        rooms.join(&room("a"), id(1), HOME, 1).unwrap();
        rooms.join(&room("a"), id(2), HOME, 2).unwrap();
        assert_eq!(rooms.leave(&room("a"), &id(1)), Some(1));
        assert_eq!(rooms.room_count(), 1);
        assert_eq!(rooms.leave(&room("a"), &id(2)), Some(2));
        assert_eq!((rooms.room_count(), rooms.peer_count()), (0, 0));
        // Leaving twice, or a room that does not exist, changes nothing.
        assert_eq!(rooms.leave(&room("a"), &id(2)), None);
        assert_eq!(rooms.leave(&room("zz"), &id(1)), None);
        assert_eq!(rooms.peer_count(), 0);
    }

    #[test]
    fn one_address_takes_only_its_share_of_a_room() {
        // A room of 4 where one address may hold 3: made-up identities from one
        // address fill its share, and a peer from another address still joins.
        let mut rooms = Rooms::new(10, 4, 3);
        let other = Address::of("127.0.0.2".parse().unwrap());
        for n in 1..=3 {
            rooms.join(&room("a"), id(n), HOME, n).unwrap();
        }
        assert_eq!(
            rooms.join(&room("a"), id(4), HOME, 4),
            Err(JoinError::AddressFull {
                address: HOME,
                max: 3
            })
        );
        assert_eq!(
            JoinError::AddressFull {
                address: HOME,
                max: 3
            }
            .code(),
            ErrorCode::RoomFull
        );
        // The share is per room: the same address opens another.
        rooms.join(&room("b"), id(4), HOME, 4).unwrap();
        rooms.join(&room("a"), id(5), other, 5).unwrap();
        assert_eq!(
            rooms.join(&room("a"), id(6), other, 6),
            Err(JoinError::RoomFull(4))
        );
        // A leave frees a place in the address's share.
        rooms.leave(&room("a"), &id(1));
        rooms.join(&room("a"), id(6), HOME, 6).unwrap();
        assert_eq!(others(&rooms, "a", 9), [2, 3, 5, 6]);
    }
}
