//! Short friendly names for node ids, so a class can say "amber-otter dropped" instead
//! of reading hex. The name is derived from the id alone, so every tab shows the same
//! name for a node; 4096 names mean clashes in a room of 40 are rare, and the id is
//! always shown next to it.

use tabchain_core::NodeId;

const ADJECTIVES: [&str; 64] = [
    "amber", "bold", "brave", "bright", "brisk", "calm", "clever", "cosmic", "crisp", "curious",
    "dapper", "daring", "eager", "fancy", "fast", "fierce", "fluffy", "gentle", "giddy", "golden",
    "grand", "happy", "hardy", "humble", "icy", "jolly", "keen", "kind", "lively", "lucky",
    "mellow", "merry", "mighty", "misty", "noble", "odd", "plucky", "polite", "proud", "quick",
    "quiet", "rapid", "rosy", "royal", "rusty", "shiny", "shy", "silent", "silver", "sleepy",
    "sly", "snowy", "spry", "stormy", "sunny", "swift", "tidy", "tiny", "vivid", "warm", "wild",
    "wise", "witty", "zesty",
];

const ANIMALS: [&str; 64] = [
    "ant", "badger", "bat", "bear", "beaver", "bee", "bison", "boar", "camel", "cat", "cobra",
    "crab", "crane", "crow", "deer", "dingo", "dove", "duck", "eagle", "eel", "elk", "falcon",
    "ferret", "finch", "fox", "frog", "gecko", "goat", "goose", "hare", "hawk", "heron", "horse",
    "ibis", "jackal", "koala", "lemur", "lion", "llama", "lynx", "mole", "moose", "moth", "newt",
    "otter", "owl", "panda", "parrot", "puffin", "quail", "raven", "robin", "seal", "shark",
    "sloth", "snail", "swan", "tiger", "toad", "trout", "turtle", "walrus", "wolf", "yak",
];

pub fn friendly_name(id: &NodeId) -> String {
    let bits = u16::from_be_bytes([id.0[0], id.0[1]]);
    let adjective = ADJECTIVES[usize::from(bits >> 10)];
    let animal = ANIMALS[usize::from((bits >> 4) & 0x3f)];
    format!("{adjective}-{animal}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_first_twelve_bits() {
        assert_eq!(friendly_name(&NodeId([0; 16])), "amber-ant");
        assert_eq!(friendly_name(&NodeId([0xff; 16])), "zesty-yak");
        let mut id = NodeId([0; 16]);
        id.0[1] = 0x0f; // the low four bits of the second byte do not count
        assert_eq!(friendly_name(&id), "amber-ant");
        id.0[1] = 0x10;
        assert_eq!(friendly_name(&id), "amber-badger");
    }
}
