//! Who is subscribed to what: net-out's table of WebSocket subscriptions.
//!
//! **Written by** net-out alone, in ring order, from the `StreamAction`s verify parsed out of
//! SUBSCRIBE/UNSUBSCRIBE frames, and when a connection closes. **Read by** the fan-out, which asks
//! for a stream's subscribers once per message.
//!
//! **Keeps**: connections grouped by their set of public streams ([`GroupId`]: connections that
//! follow the same streams share a group), and per public stream (market × kind) the groups that
//! hold it; per account the connections following its order updates; per connection its streams
//! (at most [`STREAMS_PER_CONNECTION_MAX`]) and its one account. A private stream names its
//! account by key; a key with no account yet waits in a short list and is attached when
//! `AccountCreated` arrives.
//!
//! **Why groups**: a message is appended once per group, not once per connection, and net-out
//! sends each group's bytes to every member from that one buffer (hot in cache), copying them
//! into a member's own outbox only when the member is behind. Market makers mostly follow the
//! same few streams, so there are few groups and many members.
//!
//! **Allocation**: subscribing may grow a subscriber list (a control-plane action, bounded by the
//! connections and the per-connection stream cap); delivering a message never allocates.
//!
//! **Invariants**: a connection appears in a stream's list iff the stream is in its own list, once;
//! its order-update streams all follow its one account.

use crate::api::streams::{DepthCadence, STREAMS_PER_CONNECTION_MAX, Stream, StreamError};
use crate::records::KlineInterval;
use crate::types::{AccountIndex, AccountKey, MarketId};
use std::collections::HashMap;

/// Public stream kinds per market: four depth cadences, trade, bookTicker, ticker, the klines.
const PUBLIC_KINDS: usize = 7 + KlineInterval::COUNT;

/// A group of connections following the same public streams (an index into the group table).
pub type GroupId = u32;

/// Connections with one set of public streams.
#[derive(Default)]
struct Group {
    /// The public streams' table positions, ascending.
    streams: Vec<usize>,
    members: Vec<u32>,
}

/// One connection's subscriptions.
#[derive(Default)]
struct ConnectionStreams {
    streams: Vec<Stream>,
    /// The group of its public streams, if it has any.
    group: Option<GroupId>,
    /// The account its private streams follow (set by its first valid signed SUBSCRIBE).
    account_key: Option<AccountKey>,
    /// That account's index, once it exists.
    account: Option<AccountIndex>,
}

/// The subscription table. See the module documentation.
pub struct Subscriptions {
    /// Per public stream, the groups that hold it.
    public: Vec<Vec<GroupId>>,
    groups: Vec<Group>,
    free_groups: Vec<GroupId>,
    group_by_streams: HashMap<Vec<usize>, GroupId>,
    connections: Vec<ConnectionStreams>,
    order_updates: HashMap<AccountIndex, Vec<u32>>,
    /// Connections whose account key has no account yet.
    waiting_for_account: Vec<u32>,
    streams_per_connection_max: usize,
}

fn depth_kind(cadence: DepthCadence) -> usize {
    match cadence {
        DepthCadence::Realtime => 0,
        DepthCadence::Ms200 => 1,
        DepthCadence::Ms600 => 2,
        DepthCadence::Ms1000 => 3,
    }
}

/// The public stream's position in the table, `None` for private streams.
fn public_index(stream: &Stream) -> Option<usize> {
    let (market, kind) = match *stream {
        Stream::Depth { market, cadence } => (market, depth_kind(cadence)),
        Stream::Trade(market) => (market, 4),
        Stream::BookTicker(market) => (market, 5),
        Stream::Ticker(market) => (market, 6),
        Stream::Kline { market, interval } => (market, 7 + interval.index()),
        Stream::OrderUpdate { .. } => return None,
    };
    Some(market.0 as usize * PUBLIC_KINDS + kind)
}

impl Subscriptions {
    /// An empty table for `markets` markets and `connections_max` connections, each holding at
    /// most [`STREAMS_PER_CONNECTION_MAX`] streams.
    pub fn new(markets: usize, connections_max: usize) -> Subscriptions {
        Subscriptions::with_streams_max(markets, connections_max, STREAMS_PER_CONNECTION_MAX)
    }

    /// The same with another cap per connection (tests).
    pub fn with_streams_max(
        markets: usize,
        connections_max: usize,
        streams_per_connection_max: usize,
    ) -> Subscriptions {
        Subscriptions {
            public: (0..markets * PUBLIC_KINDS).map(|_| Vec::new()).collect(),
            groups: Vec::new(),
            free_groups: Vec::new(),
            group_by_streams: HashMap::new(),
            connections: (0..connections_max).map(|_| ConnectionStreams::default()).collect(),
            order_updates: HashMap::new(),
            waiting_for_account: Vec::new(),
            streams_per_connection_max,
        }
    }

    /// Subscribes `connection` to `stream`; a private stream follows `account_key` (the frame's
    /// verified signer), whose account is `account` if it exists. Subscribing twice is a no-op.
    pub fn subscribe(
        &mut self,
        connection: u32,
        stream: Stream,
        account_key: AccountKey,
        account: Option<AccountIndex>,
    ) -> Result<(), StreamError> {
        let own = &mut self.connections[connection as usize];
        if own.streams.contains(&stream) {
            return Ok(());
        }
        if own.streams.len() >= self.streams_per_connection_max {
            return Err(StreamError::TooManyStreams);
        }
        match public_index(&stream) {
            Some(index) => {
                let mut streams = self.group_streams(connection);
                let position = streams.binary_search(&index).unwrap_err();
                streams.insert(position, index);
                self.move_to_group(connection, streams);
            }
            None => match own.account_key {
                Some(key) if key != account_key => return Err(StreamError::InvalidSignature),
                Some(_) => {}
                None if account_key == AccountKey::default() => {
                    return Err(StreamError::InvalidSignature);
                }
                None => {
                    own.account_key = Some(account_key);
                    own.account = account;
                    match account {
                        Some(index) => {
                            self.order_updates.entry(index).or_default().push(connection)
                        }
                        None => self.waiting_for_account.push(connection),
                    }
                }
            },
        }
        self.connections[connection as usize].streams.push(stream);
        Ok(())
    }

    /// Unsubscribes `connection` from `stream` (ignored if it is not subscribed). The account
    /// stays the connection's: one account per connection, for its whole life.
    pub fn unsubscribe(&mut self, connection: u32, stream: Stream) {
        let own = &mut self.connections[connection as usize];
        let Some(position) = own.streams.iter().position(|&held| held == stream) else {
            return;
        };
        own.streams.swap_remove(position);
        match public_index(&stream) {
            Some(index) => {
                let mut streams = self.group_streams(connection);
                streams.retain(|&held| held != index);
                self.move_to_group(connection, streams);
            }
            None => {
                let follows_orders =
                    own.streams.iter().any(|held| matches!(held, Stream::OrderUpdate { .. }));
                if !follows_orders {
                    self.stop_following(connection);
                }
            }
        }
    }

    /// Forgets every subscription of a closed connection, and its account.
    pub fn remove_connection(&mut self, connection: u32) {
        self.connections[connection as usize].streams.clear();
        self.move_to_group(connection, Vec::new());
        self.stop_following(connection);
        let own = &mut self.connections[connection as usize];
        own.account_key = None;
        own.account = None;
    }

    /// The public streams of `connection`'s group (a copy, to edit).
    fn group_streams(&self, connection: u32) -> Vec<usize> {
        match self.connections[connection as usize].group {
            Some(group) => self.groups[group as usize].streams.clone(),
            None => Vec::new(),
        }
    }

    /// Moves `connection` to the group of `streams` (none if empty), making it if need be and
    /// retiring the group it leaves if that one is left empty.
    fn move_to_group(&mut self, connection: u32, streams: Vec<usize>) {
        if let Some(old) = self.connections[connection as usize].group.take() {
            let group = &mut self.groups[old as usize];
            remove(&mut group.members, connection);
            if group.members.is_empty() {
                let retired = std::mem::take(&mut group.streams);
                for &index in &retired {
                    remove(&mut self.public[index], old);
                }
                self.group_by_streams.remove(&retired);
                self.free_groups.push(old);
            }
        }
        if streams.is_empty() {
            return;
        }
        let group = match self.group_by_streams.get(&streams) {
            Some(&group) => group,
            None => {
                let group = self.free_groups.pop().unwrap_or_else(|| {
                    self.groups.push(Group::default());
                    (self.groups.len() - 1) as GroupId
                });
                for &index in &streams {
                    self.public[index].push(group);
                }
                self.groups[group as usize].streams = streams.clone();
                self.group_by_streams.insert(streams, group);
                group
            }
        };
        self.groups[group as usize].members.push(connection);
        self.connections[connection as usize].group = Some(group);
    }

    fn stop_following(&mut self, connection: u32) {
        let own = &self.connections[connection as usize];
        match own.account {
            Some(account) => {
                if let Some(list) = self.order_updates.get_mut(&account) {
                    remove(list, connection);
                }
            }
            None => remove(&mut self.waiting_for_account, connection),
        }
    }

    /// An account was created: connections waiting for its key now follow it.
    pub fn account_created(&mut self, account: AccountIndex, key: &AccountKey) {
        if self.waiting_for_account.is_empty() {
            return;
        }
        let mut index = 0;
        while index < self.waiting_for_account.len() {
            let connection = self.waiting_for_account[index];
            let own = &mut self.connections[connection as usize];
            if own.account_key.as_ref() == Some(key) {
                own.account = Some(account);
                self.waiting_for_account.swap_remove(index);
                self.order_updates.entry(account).or_default().push(connection);
            } else {
                index += 1;
            }
        }
    }

    /// The groups subscribed to a public stream.
    pub fn groups(&self, stream: &Stream) -> &[GroupId] {
        public_index(stream).map_or(&[], |index| &self.public[index])
    }

    /// The connections of a group.
    pub fn members(&self, group: GroupId) -> &[u32] {
        &self.groups[group as usize].members
    }

    /// Groups there may be (an upper bound on every [`GroupId`] + 1).
    pub fn groups_len(&self) -> usize {
        self.groups.len()
    }

    /// Whether anyone follows any stream of `market`'s kind (`probe` names one of them).
    pub fn has_subscribers(&self, stream: &Stream) -> bool {
        !self.groups(stream).is_empty()
    }

    /// The connections following `account`'s order updates.
    pub fn order_update_connections(&self, account: AccountIndex) -> &[u32] {
        self.order_updates.get(&account).map_or(&[], Vec::as_slice)
    }

    /// The order-update streams of `connection` that cover `market`.
    pub fn order_update_streams(
        &self,
        connection: u32,
        market: MarketId,
    ) -> impl Iterator<Item = Stream> + '_ {
        self.connections[connection as usize].streams.iter().copied().filter(move |stream| {
            matches!(stream, Stream::OrderUpdate { market: None })
                || *stream == Stream::OrderUpdate { market: Some(market) }
        })
    }

    /// How many streams `connection` holds.
    pub fn stream_count(&self, connection: u32) -> usize {
        self.connections[connection as usize].streams.len()
    }

    /// Connections holding at least one stream (a walk over every connection slot: for
    /// `GET /metrics`, not for each message).
    pub fn subscriber_count(&self) -> usize {
        self.connections.iter().filter(|connection| !connection.streams.is_empty()).count()
    }

    /// Groups with members now.
    pub fn groups_in_use(&self) -> usize {
        self.groups.len() - self.free_groups.len()
    }
}

fn remove(list: &mut Vec<u32>, connection: u32) {
    if let Some(position) = list.iter().position(|&held| held == connection) {
        list.swap_remove(position);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn stream(name: &str) -> Stream {
        Stream::parse(name.as_bytes(), &Config::embedded_default()).unwrap()
    }

    /// Every connection that receives `stream`, through its groups.
    fn subscribers(table: &Subscriptions, stream: &Stream) -> Vec<u32> {
        let mut members: Vec<u32> =
            table.groups(stream).iter().flat_map(|&group| table.members(group)).copied().collect();
        members.sort_unstable();
        members
    }

    #[test]
    fn subscribe_unsubscribe_and_close_keep_both_sides_in_step() {
        let mut table = Subscriptions::new(3, 4);
        let depth = stream("depth.SOL_USDC");
        assert_eq!(table.subscribe(1, depth, AccountKey::default(), None), Ok(()));
        assert_eq!(table.subscribe(1, depth, AccountKey::default(), None), Ok(()));
        assert_eq!(table.subscribe(2, depth, AccountKey::default(), None), Ok(()));
        assert_eq!(subscribers(&table, &depth), [1, 2]);
        assert_eq!(table.groups(&depth).len(), 1, "one set of streams, one group");
        let trade = stream("trade.SOL_USDC");
        assert_eq!(table.subscribe(2, trade, AccountKey::default(), None), Ok(()));
        assert_eq!(table.groups(&depth).len(), 2, "2 moved to the group of depth and trades");
        assert_eq!(subscribers(&table, &trade), [2]);
        table.unsubscribe(1, depth);
        table.unsubscribe(1, depth);
        assert_eq!(subscribers(&table, &depth), [2]);
        assert_eq!(table.groups(&depth).len(), 1, "the empty group retired");
        table.remove_connection(2);
        assert!(subscribers(&table, &depth).is_empty());
        assert!(table.groups(&trade).is_empty());
        assert_eq!(table.subscribe(3, trade, AccountKey::default(), None), Ok(()));
        assert_eq!(table.groups_len(), 2, "a retired group is reused");
        assert_eq!(table.stream_count(2), 0);
    }

    #[test]
    fn one_account_per_connection_and_accounts_created_later_are_followed() {
        let mut table = Subscriptions::new(3, 4);
        let (alice, bob) = (AccountKey([1; 32]), AccountKey([2; 32]));
        let all = stream("account.orderUpdate");
        let sol = stream("account.orderUpdate.SOL_USDC");
        assert_eq!(
            table.subscribe(0, all, AccountKey::default(), None),
            Err(StreamError::InvalidSignature)
        );
        assert_eq!(table.subscribe(0, all, alice, None), Ok(()));
        assert_eq!(table.subscribe(0, sol, bob, None), Err(StreamError::InvalidSignature));
        assert_eq!(table.subscribe(0, sol, alice, None), Ok(()));
        assert!(table.order_update_connections(AccountIndex(7)).is_empty());
        table.account_created(AccountIndex(7), &alice);
        assert_eq!(table.order_update_connections(AccountIndex(7)), &[0]);
        let sol_market = MarketId(0);
        assert_eq!(table.order_update_streams(0, sol_market).count(), 2);
        assert_eq!(table.order_update_streams(0, MarketId(1)).count(), 1);
        table.unsubscribe(0, all);
        assert_eq!(table.order_update_connections(AccountIndex(7)), &[0]);
        table.unsubscribe(0, sol);
        assert!(table.order_update_connections(AccountIndex(7)).is_empty());
    }

    #[test]
    fn a_connection_holds_at_most_its_cap_and_the_rest_are_refused_alone() {
        let mut table = Subscriptions::with_streams_max(3, 1, 2);
        let none = AccountKey::default();
        assert_eq!(table.subscribe(0, stream("trade.SOL_USDC"), none, None), Ok(()));
        assert_eq!(table.subscribe(0, stream("ticker.SOL_USDC"), none, None), Ok(()));
        let third = stream("depth.SOL_USDC");
        assert_eq!(table.subscribe(0, third, none, None), Err(StreamError::TooManyStreams));
        assert!(subscribers(&table, &third).is_empty());
        assert_eq!(table.subscribe(0, stream("trade.SOL_USDC"), none, None), Ok(()));
        assert_eq!(table.stream_count(0), 2);
    }
}
