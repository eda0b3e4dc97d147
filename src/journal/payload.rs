//! The journal record of one sequenced command: what a restart needs to rebuild everything.
//!
//! Layout (little-endian, explicit): the 96-byte encoded [`Command`], the request's signature (64),
//! its replay digest (32), `X-Timestamp` and `X-Window` (8 + 8), a flags byte, then the optional
//! withdrawal address and client id, each as a length byte and its bytes. The command rebuilds the
//! matcher; the auth part rebuilds the replay cache (and says who signed what); the extras rebuild
//! net-out's withdrawal history.

use crate::command::{COMMAND_ENCODED_LEN, Command};
use crate::constants::{ADDRESS_MAX, WITHDRAWAL_CLIENT_ID_MAX};
use crate::records::{Auth, Extras};

/// Largest encoded record.
pub const JOURNAL_RECORD_MAX: usize =
    COMMAND_ENCODED_LEN + 64 + 32 + 8 + 8 + 1 + 1 + ADDRESS_MAX + 1 + WITHDRAWAL_CLIENT_ID_MAX;

const AUTH_START: usize = COMMAND_ENCODED_LEN;
const FLAGS_AT: usize = AUTH_START + 64 + 32 + 16;
const HAS_ADDRESS: u8 = 1;
const HAS_CLIENT_ID: u8 = 2;

/// Bytes that are not a journal record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordError;

/// Encodes a record into `out`; returns its length.
pub fn encode(
    command: &Command,
    auth: &Auth,
    extras: &Extras,
    out: &mut [u8; JOURNAL_RECORD_MAX],
) -> usize {
    let mut command_bytes = [0u8; COMMAND_ENCODED_LEN];
    command.encode(&mut command_bytes);
    out[..AUTH_START].copy_from_slice(&command_bytes);
    out[AUTH_START..AUTH_START + 64].copy_from_slice(&auth.signature);
    out[AUTH_START + 64..AUTH_START + 96].copy_from_slice(&auth.replay_digest);
    out[AUTH_START + 96..AUTH_START + 104].copy_from_slice(&auth.timestamp_ms.to_le_bytes());
    out[AUTH_START + 104..AUTH_START + 112].copy_from_slice(&auth.window_ms.to_le_bytes());
    let mut flags = 0;
    let mut length = FLAGS_AT + 1;
    if extras.address_len > 0 {
        flags |= HAS_ADDRESS;
        out[length] = extras.address_len;
        out[length + 1..length + 1 + extras.address().len()].copy_from_slice(extras.address());
        length += 1 + extras.address().len();
    }
    if let Some(client_id) = extras.client_id() {
        flags |= HAS_CLIENT_ID;
        out[length] = client_id.len() as u8;
        out[length + 1..length + 1 + client_id.len()].copy_from_slice(client_id);
        length += 1 + client_id.len();
    }
    out[FLAGS_AT] = flags;
    length
}

/// Decodes a record written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<(Command, Auth, Extras), RecordError> {
    if bytes.len() <= FLAGS_AT {
        return Err(RecordError);
    }
    let command = Command::decode(bytes[..COMMAND_ENCODED_LEN].try_into().unwrap())
        .map_err(|_| RecordError)?;
    let auth = Auth {
        signature: bytes[AUTH_START..AUTH_START + 64].try_into().unwrap(),
        replay_digest: bytes[AUTH_START + 64..AUTH_START + 96].try_into().unwrap(),
        timestamp_ms: u64::from_le_bytes(
            bytes[AUTH_START + 96..AUTH_START + 104].try_into().unwrap(),
        ),
        window_ms: u64::from_le_bytes(
            bytes[AUTH_START + 104..AUTH_START + 112].try_into().unwrap(),
        ),
    };
    let flags = bytes[FLAGS_AT];
    if flags & !(HAS_ADDRESS | HAS_CLIENT_ID) != 0 {
        return Err(RecordError);
    }
    let mut extras = Extras::default();
    let mut position = FLAGS_AT + 1;
    let mut take = |capacity: usize| -> Result<&[u8], RecordError> {
        let length = *bytes.get(position).ok_or(RecordError)? as usize;
        if length > capacity {
            return Err(RecordError);
        }
        let field = bytes.get(position + 1..position + 1 + length).ok_or(RecordError)?;
        position += 1 + length;
        Ok(field)
    };
    if flags & HAS_ADDRESS != 0 {
        let address = take(ADDRESS_MAX)?;
        extras.address[..address.len()].copy_from_slice(address);
        extras.address_len = address.len() as u8;
    }
    if flags & HAS_CLIENT_ID != 0 {
        let client_id = take(WITHDRAWAL_CLIENT_ID_MAX)?;
        extras.client_id[..client_id.len()].copy_from_slice(client_id);
        extras.client_id_len = client_id.len() as u8;
        extras.has_client_id = true;
    }
    if position != bytes.len() {
        return Err(RecordError);
    }
    Ok((command, auth, extras))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Action;
    use crate::types::{AccountKey, AssetId, SequenceNumber};

    #[test]
    fn roundtrip_with_and_without_extras() {
        let command = Command {
            sequence: SequenceNumber(7),
            time_us: 99,
            account: AccountKey([5; 32]),
            action: Action::Withdraw { asset: AssetId(1), amount: 10 },
        };
        let auth =
            Auth { signature: [1; 64], replay_digest: [2; 32], timestamp_ms: 3, window_ms: 4 };
        let mut extras = Extras::default();
        let mut buffer = [0u8; JOURNAL_RECORD_MAX];
        let length = encode(&command, &auth, &extras, &mut buffer);
        assert_eq!(decode(&buffer[..length]), Ok((command, auth, extras)));
        extras.address[..4].copy_from_slice(b"addr");
        extras.address_len = 4;
        extras.has_client_id = true;
        let length = encode(&command, &auth, &extras, &mut buffer);
        assert_eq!(decode(&buffer[..length]), Ok((command, auth, extras)));
        assert_eq!(decode(&buffer[..length - 1]), Err(RecordError));
        extras.client_id[..2].copy_from_slice(b"id");
        extras.client_id_len = 2;
        extras.address_len = ADDRESS_MAX as u8;
        let length = encode(&command, &auth, &extras, &mut buffer);
        assert_eq!(length, JOURNAL_RECORD_MAX - WITHDRAWAL_CLIENT_ID_MAX + 2);
        assert_eq!(decode(&buffer[..length]).unwrap().2, extras);
    }
}
