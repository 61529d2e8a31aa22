//! What travels on the broadcast port for realtime clients, and how each instance reads it.

use bytestring::ByteString;
use serde::Deserialize;
use serde_json::value::RawValue;
use workbench_users::UserId;

/// The bus topic of frames for users or a room.
pub const TOPIC: &str = "realtime";

/// Who a frame published on the bus is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every connection of these users.
    Users(Vec<UserId>),
    /// Every connection that joined this room.
    Room(String),
    /// Every connection that joined this room, but those of one user (who said it).
    RoomExcept { room: String, except: UserId },
    /// Every connection subscribed to this topic (`radio:{slug}`), on every instance.
    Topic(String),
}

/// The payload: one header line saying who it is for (`u 1,2` or `r slug`), then the frame.
pub(crate) fn encode(target: &Target, frame: &str) -> Vec<u8> {
    let header = match target {
        Target::Users(users) => {
            let ids = users.iter().map(|u| u.0.to_string()).collect::<Vec<_>>().join(",");
            format!("u {ids}\n")
        }
        Target::Room(room) => format!("r {room}\n"),
        Target::RoomExcept { room, except } => format!("x {} {room}\n", except.0),
        Target::Topic(topic) => format!("t {topic}\n"),
    };
    let mut payload = Vec::with_capacity(header.len() + frame.len());
    payload.extend_from_slice(header.as_bytes());
    payload.extend_from_slice(frame.as_bytes());
    payload
}

/// One payload carrying a frame of its own for each of many users (`m`, then a line `<user>
/// <frame>` each: a JSON frame holds no raw line break), so that telling a thousand users is one
/// bus message, not a thousand.
pub(crate) fn encode_each(frames: &[(UserId, String)]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(2 + frames.iter().map(|(_, f)| f.len() + 12).sum::<usize>());
    payload.extend_from_slice(b"m\n");
    for (user, frame) in frames {
        debug_assert!(!frame.contains('\n'), "a frame of one line");
        payload.extend_from_slice(format!("{} ", user.0).as_bytes());
        payload.extend_from_slice(frame.as_bytes());
        payload.push(b'\n');
    }
    payload
}

/// Every (target, frame) a bus message carries: those of a many-users payload
/// ([`encode_each`]), or the one [`decode`] reads.
pub(crate) fn decode_all(topic: &str, payload: &[u8], events: &[&str]) -> Vec<(Target, ByteString)> {
    if topic == TOPIC
        && let Some(rest) = payload.strip_prefix(b"m\n")
    {
        let Ok(text) = std::str::from_utf8(rest) else { return Vec::new() };
        return text
            .lines()
            .filter_map(|line| {
                let (user, frame) = line.split_once(' ')?;
                Some((Target::Users(vec![UserId(user.parse().ok()?)]), ByteString::from(frame.to_owned())))
            })
            .collect();
    }
    decode(topic, payload, events).into_iter().collect()
}

/// Reads a bus message meant for realtime clients: a frame of [`TOPIC`], or a domain event
/// published by the relay under one of `events` (the prefixes the domains named, such as
/// `event.task.`). `None` for other topics and for what cannot be read.
pub(crate) fn decode(topic: &str, payload: &[u8], events: &[&str]) -> Option<(Target, ByteString)> {
    if topic == TOPIC {
        let text = std::str::from_utf8(payload).ok()?;
        let (header, frame) = text.split_once('\n')?;
        let target = match header.split_once(' ')? {
            ("u", ids) => {
                Target::Users(ids.split(',').map(|id| id.parse().map(UserId)).collect::<Result<_, _>>().ok()?)
            }
            ("r", room) => Target::Room(room.to_owned()),
            ("t", topic) => Target::Topic(topic.to_owned()),
            ("x", rest) => {
                let (except, room) = rest.split_once(' ')?;
                Target::RoomExcept { room: room.to_owned(), except: UserId(except.parse().ok()?) }
            }
            _ => return None,
        };
        return Some((target, ByteString::from(frame)));
    }
    if events.iter().any(|prefix| topic.starts_with(prefix)) {
        return domain_event(payload);
    }
    None
}

/// A domain event as the relay publishes it (its envelope with the audience): the client sees
/// `{"type": "task.updated", "data": <the task>}`, sent to the event's audience (a task's owner
/// and assignee, a trade's two parties).
fn domain_event(payload: &[u8]) -> Option<(Target, ByteString)> {
    #[derive(Deserialize)]
    struct Published<'a> {
        #[serde(rename = "type")]
        kind: String,
        #[serde(borrow)]
        data: &'a RawValue,
        #[serde(default)]
        audience: Vec<i64>,
    }
    let event: Published<'_> = serde_json::from_slice(payload).ok()?;
    if event.audience.is_empty() {
        return None;
    }
    let kind = serde_json::to_string(&event.kind).ok()?;
    let frame = format!(r#"{{"type":{kind},"data":{}}}"#, event.data.get());
    Some((Target::Users(event.audience.into_iter().map(UserId).collect()), ByteString::from(frame)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTS: &[&str] = &["event.task.", "event.trade."];

    #[test]
    fn trade_events_reach_both_parties() {
        let payload = br#"{"type":"trade.accepted","data":{"id":3},"audience":[1,2]}"#;
        let (target, frame) = decode("event.trade.accepted", payload, EVENTS).expect("decodes");
        assert_eq!(target, Target::Users(vec![UserId(1), UserId(2)]));
        assert_eq!(&*frame, r#"{"type":"trade.accepted","data":{"id":3}}"#);
        assert!(decode("event.chat.sent", payload, EVENTS).is_none(), "only the domains' events");
    }

    #[test]
    fn targets_round_trip() {
        for target in [
            Target::Users(vec![UserId(1), UserId(22)]),
            Target::Room("ops-team".into()),
            Target::RoomExcept { room: "ops-team".into(), except: UserId(7) },
        ] {
            let payload = encode(&target, r#"{"type":"x","data":{"a":"b\nc"}}"#);
            let (decoded, frame) = decode(TOPIC, &payload, EVENTS).expect("decodes");
            assert_eq!(decoded, target);
            assert_eq!(&*frame, r#"{"type":"x","data":{"a":"b\nc"}}"#);
        }
        let each = encode_each(&[(UserId(1), r#"{"a":"b\nc"}"#.into()), (UserId(2), "{}".into())]);
        let decoded = decode_all(TOPIC, &each, EVENTS);
        assert_eq!(decoded.len(), 2);
        assert_eq!((&decoded[0].0, &*decoded[0].1), (&Target::Users(vec![UserId(1)]), r#"{"a":"b\nc"}"#));
        assert_eq!((&decoded[1].0, &*decoded[1].1), (&Target::Users(vec![UserId(2)]), "{}"));
        assert!(decode(TOPIC, b"q 1\n{}", EVENTS).is_none());
        assert!(decode(TOPIC, b"u 1,x\n{}", EVENTS).is_none());
        assert!(decode("principal.changed", b"7", EVENTS).is_none());
    }

    #[test]
    fn a_task_event_goes_to_its_audience_as_type_and_data() {
        let payload = br#"{"id":"evt_3","type":"task.deleted","timestamp":"2026-01-15T10:30:00Z","data":{"id":9},"audience":[1,2]}"#;
        let (target, frame) = decode("event.task.deleted", payload, EVENTS).expect("decodes");
        assert_eq!(target, Target::Users(vec![UserId(1), UserId(2)]));
        assert_eq!(&*frame, r#"{"type":"task.deleted","data":{"id":9}}"#);
        // Without an audience nobody may see it.
        assert!(decode("event.task.deleted", br#"{"type":"task.deleted","data":{"id":9}}"#, EVENTS).is_none());
    }
}
