//! Who is in which room: the pure bookkeeping behind the server, with its limits.
//!
//! Generic over what the server keeps per peer (its outgoing queue), so the rules are
//! unit-tested here without sockets. The socket loop holds this behind one mutex and
//! queues `welcome`, `peer_joined` and `peer_left` while it holds it, so everyone in a
//! room sees joins and leaves in the same order, and no signal reaches a tab before
//! its `welcome`.

use std::collections::HashMap;

use tabchain_core::NodeId;
use tabchain_signal::{ErrorCode, RoomName};

/// Why a peer may not join a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("a peer with this id is already in the room")]
    DuplicatePeer,
    #[error("the room is full ({0} peers)")]
    RoomFull(usize),
    #[error("the server holds its maximum of {0} rooms")]
    TooManyRooms(usize),
}

impl JoinError {
    pub fn code(self) -> ErrorCode {
        match self {
            JoinError::DuplicatePeer => ErrorCode::DuplicatePeer,
            JoinError::RoomFull(_) => ErrorCode::RoomFull,
            JoinError::TooManyRooms(_) => ErrorCode::TooManyRooms,
        }
    }
}

/// The rooms and their members. A room exists while it has a member.
#[derive(Debug)]
pub struct Rooms<P> {
    rooms: HashMap<RoomName, HashMap<NodeId, P>>,
    peers: usize,
    max_rooms: usize,
    max_peers_per_room: usize,
}

impl<P> Rooms<P> {
    pub fn new(max_rooms: usize, max_peers_per_room: usize) -> Rooms<P> {
        Rooms {
            rooms: HashMap::new(),
            peers: 0,
            max_rooms,
            max_peers_per_room,
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
        self.rooms.get(room)?.get(id)
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
            .flatten()
            .filter(move |(other, _)| *other != id)
    }

    // Commands.

    /// Puts `id` in `room`, opening the room if need be.
    pub fn join(&mut self, room: &RoomName, id: NodeId, peer: P) -> Result<(), JoinError> {
        match self.rooms.get_mut(room) {
            Some(members) => {
                if members.contains_key(&id) {
                    return Err(JoinError::DuplicatePeer);
                }
                if members.len() >= self.max_peers_per_room {
                    return Err(JoinError::RoomFull(self.max_peers_per_room));
                }
                members.insert(id, peer);
            }
            None => {
                if self.rooms.len() >= self.max_rooms {
                    return Err(JoinError::TooManyRooms(self.max_rooms));
                }
                self.rooms.insert(room.clone(), HashMap::from([(id, peer)]));
            }
        }
        self.peers += 1;
        Ok(())
    }

    /// Takes `id` out of `room`, closing the room if it was the last one there.
    pub fn leave(&mut self, room: &RoomName, id: &NodeId) -> Option<P> {
        let members = self.rooms.get_mut(room)?;
        let peer = members.remove(id)?;
        if members.is_empty() {
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
        let mut rooms = Rooms::new(10, 10);
        rooms.join(&room("a"), id(1), 1).unwrap();
        rooms.join(&room("a"), id(2), 2).unwrap();
        rooms.join(&room("b"), id(3), 3).unwrap();
        assert_eq!(others(&rooms, "a", 1), [2]);
        assert_eq!(others(&rooms, "a", 3), [1, 2]);
        assert_eq!(others(&rooms, "b", 3), Vec::<u8>::new());
        assert_eq!(rooms.peer(&room("a"), &id(2)), Some(&2));
        assert_eq!(rooms.peer(&room("b"), &id(2)), None);
        assert_eq!((rooms.room_count(), rooms.peer_count()), (2, 3));
    }

    #[test]
    fn the_same_id_joins_a_room_once_but_may_be_in_two_rooms() {
        let mut rooms = Rooms::new(10, 10);
        rooms.join(&room("a"), id(1), 1).unwrap();
        assert_eq!(
            rooms.join(&room("a"), id(1), 9),
            Err(JoinError::DuplicatePeer)
        );
        assert_eq!(rooms.peer(&room("a"), &id(1)), Some(&1));
        rooms.join(&room("b"), id(1), 2).unwrap();
        assert_eq!(rooms.peer_count(), 2);
    }

    #[test]
    fn a_full_room_refuses_and_frees_a_place_when_someone_leaves() {
        let mut rooms = Rooms::new(10, 2);
        rooms.join(&room("a"), id(1), 1).unwrap();
        rooms.join(&room("a"), id(2), 2).unwrap();
        assert_eq!(
            rooms.join(&room("a"), id(3), 3),
            Err(JoinError::RoomFull(2))
        );
        assert_eq!(rooms.leave(&room("a"), &id(1)), Some(1));
        rooms.join(&room("a"), id(3), 3).unwrap();
        assert_eq!(others(&rooms, "a", 9), [2, 3]);
    }

    #[test]
    fn the_room_limit_counts_open_rooms_and_existing_rooms_stay_joinable() {
        let mut rooms = Rooms::new(2, 10);
        rooms.join(&room("a"), id(1), 1).unwrap();
        rooms.join(&room("b"), id(2), 2).unwrap();
        assert_eq!(
            rooms.join(&room("c"), id(3), 3),
            Err(JoinError::TooManyRooms(2))
        );
        rooms.join(&room("a"), id(3), 3).unwrap();
        rooms.leave(&room("b"), &id(2));
        rooms.join(&room("c"), id(4), 4).unwrap();
    }

    #[test]
    fn the_last_one_out_closes_the_room() {
        let mut rooms = Rooms::new(10, 10);
        rooms.join(&room("a"), id(1), 1).unwrap();
        rooms.join(&room("a"), id(2), 2).unwrap();
        assert_eq!(rooms.leave(&room("a"), &id(1)), Some(1));
        assert_eq!(rooms.room_count(), 1);
        assert_eq!(rooms.leave(&room("a"), &id(2)), Some(2));
        assert_eq!((rooms.room_count(), rooms.peer_count()), (0, 0));
        // Leaving twice, or a room that does not exist, changes nothing.
        assert_eq!(rooms.leave(&room("a"), &id(2)), None);
        assert_eq!(rooms.leave(&room("zz"), &id(1)), None);
        assert_eq!(rooms.peer_count(), 0);
    }
}
