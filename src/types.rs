//! The engine's vocabulary: newtypes and small enums shared by every stage.
//!
//! Everything here is `Copy`, fixed-size and free of heap data, so it can ride on the rings and in
//! journal records. Enums carry explicit `u8` discriminants because the journal encodes them as
//! bytes; `from_u8` is the only way back and rejects unknown values instead of guessing.

/// The global sequence number the sequencer stamps on every state-changing command.
///
/// Starts at 1; 0 means "not sequenced" (rejected and read-only requests).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct SequenceNumber(pub u64);

/// An order id: the sequence number of the command that placed the order.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct OrderId(pub u64);

/// Index of a market in the configuration (`markets[i]`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct MarketId(pub u16);

/// Index of an asset in the configuration (`assets[i]`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct AssetId(pub u16);

/// Dense index of an account inside the matcher, assigned in order of first deposit.
///
/// Index 0 is the fee account, which has no key and can never sign.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct AccountIndex(pub u32);

impl AccountIndex {
    /// The account that collects trading and withdrawal fees.
    pub const FEE: AccountIndex = AccountIndex(0);
}

/// An account's name: its 32-byte ED25519 public key.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct AccountKey(pub [u8; 32]);

impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccountKey(")?;
        for byte in &self.0[..4] {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "..)")
    }
}

/// A price in integer ticks of its market (`price = price_ticks × tick_size`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct PriceTicks(pub u64);

/// A base quantity in integer steps of its market (`quantity = steps × step_size`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct QuantitySteps(pub u64);

/// A client-chosen order id, unique among one account's open orders.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct ClientId(pub u32);

macro_rules! byte_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[repr(u8)]
        pub enum $name { $($(#[$vmeta])* $variant = $value),+ }

        impl $name {
            /// Every variant, in discriminant order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Decodes a journal byte; `None` for a value no variant has.
            pub fn from_u8(value: u8) -> Option<$name> {
                match value {
                    $($value => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

byte_enum!(
    /// Which side of the book an order is on.
    Side {
        /// Buys base, pays quote.
        Bid = 0,
        /// Sells base, receives quote.
        Ask = 1,
    }
);

impl Side {
    /// The side an order of this side trades against.
    pub fn opposite(self) -> Side {
        match self {
            Side::Bid => Side::Ask,
            Side::Ask => Side::Bid,
        }
    }
    /// Backpack's spelling (`Bid`, `Ask`).
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Bid => "Bid",
            Side::Ask => "Ask",
        }
    }
}

byte_enum!(
    /// Limit or market.
    OrderType {
        /// Trades at its price or better; the rest may rest.
        Limit = 0,
        /// Trades at any price and never rests.
        Market = 1,
    }
);

impl OrderType {
    /// Backpack's spelling in REST (`Limit`, `Market`).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Limit => "Limit",
            OrderType::Market => "Market",
        }
    }
}

byte_enum!(
    /// How long an order may live.
    TimeInForce {
        /// Good till cancelled: the remainder rests.
        Gtc = 0,
        /// Immediate or cancel: the remainder expires.
        Ioc = 1,
        /// Fill or kill: fills completely at once or expires untouched.
        Fok = 2,
    }
);

impl TimeInForce {
    /// Backpack's spelling (`GTC`, `IOC`, `FOK`).
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
        }
    }
}

byte_enum!(
    /// What happens when an incoming order meets a resting order of the same account.
    /// The incoming order's mode rules.
    SelfTradePrevention {
        /// The incoming order stops; its remainder expires. Default.
        RejectTaker = 0,
        /// The resting order expires and matching goes on.
        RejectMaker = 1,
        /// Both expire.
        RejectBoth = 2,
        /// They trade, fees included.
        Allow = 3,
    }
);

impl SelfTradePrevention {
    /// Backpack's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SelfTradePrevention::RejectTaker => "RejectTaker",
            SelfTradePrevention::RejectMaker => "RejectMaker",
            SelfTradePrevention::RejectBoth => "RejectBoth",
            SelfTradePrevention::Allow => "Allow",
        }
    }
}

byte_enum!(
    /// An order's status after an event.
    OrderStatus {
        /// Accepted, nothing filled.
        New = 0,
        /// Some filled, the rest open.
        PartiallyFilled = 1,
        /// Completely filled.
        Filled = 2,
        /// Cancelled by its owner.
        Cancelled = 3,
        /// Ended by the engine, maybe after fills; see [`ExpiryReason`].
        Expired = 4,
    }
);

impl OrderStatus {
    /// Backpack's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "New",
            OrderStatus::PartiallyFilled => "PartiallyFilled",
            OrderStatus::Filled => "Filled",
            OrderStatus::Cancelled => "Cancelled",
            OrderStatus::Expired => "Expired",
        }
    }
    /// Whether an order in this status still rests on the book (for a resting order type).
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::New | OrderStatus::PartiallyFilled)
    }
}

byte_enum!(
    /// Why the engine ended an order.
    ExpiryReason {
        /// IOC remainder (and Market remainders when the book ran out is `InsufficientLiquidity`).
        ImmediateOrCancel = 0,
        /// FOK could not fill completely.
        FillOrKill = 1,
        /// A postOnly order would have taken liquidity.
        PostOnlyTaker = 2,
        /// Self-trade prevention ended it.
        SelfTradePrevention = 3,
        /// A market order found the book empty before it was done.
        InsufficientLiquidity = 4,
        /// A market order ran out of funds before it was done.
        InsufficientFunds = 5,
    }
);

impl ExpiryReason {
    /// Backpack's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryReason::ImmediateOrCancel => "ImmediateOrCancel",
            ExpiryReason::FillOrKill => "FillOrKill",
            ExpiryReason::PostOnlyTaker => "PostOnlyTaker",
            ExpiryReason::SelfTradePrevention => "SelfTradePrevention",
            ExpiryReason::InsufficientLiquidity => "InsufficientLiquidity",
            ExpiryReason::InsufficientFunds => "InsufficientFunds",
        }
    }
}

byte_enum!(
    /// Why a command was rejected. Each maps to one Backpack error code, HTTP status and message
    /// (see `api::errors`); a rejected command changes nothing.
    RejectReason {
        /// INVALID_ORDER: malformed or impossible combination.
        InvalidOrder = 0,
        /// INVALID_PRICE `Invalid price`.
        InvalidPrice = 1,
        /// INVALID_PRICE `Price out of bounds`.
        PriceOutOfBounds = 2,
        /// INVALID_QUANTITY `Invalid quantity`.
        InvalidQuantity = 3,
        /// INVALID_QUANTITY `Quantity below minimum`.
        QuantityBelowMinimum = 4,
        /// INVALID_QUANTITY `Quantity out of bounds` (an amount overflows).
        QuantityOutOfBounds = 5,
        /// INSUFFICIENT_FUNDS.
        InsufficientFunds = 6,
        /// INVALID_ORDER `Order with client ID already exists: N`.
        DuplicateClientId = 7,
        /// ORDER_LIMIT: the order pool, the account's open-order cap, the book's level cap or the
        /// account's level cap.
        OrderLimit = 8,
        /// INVALID_CLIENT_REQUEST `Order not found` (cancel of an order that is not open).
        OrderNotFound = 9,
        /// RESOURCE_NOT_FOUND `Order not found` (query of an order that is not open).
        OrderNotFoundQuery = 10,
        /// FORBIDDEN `Account is frozen`.
        AccountFrozen = 11,
        /// RESOURCE_NOT_FOUND `Account not found` (admin action on an unknown account).
        AccountNotFound = 12,
        /// ORDER_LIMIT-like: no room for another account.
        AccountLimit = 13,
        /// INVALID_SYMBOL: the market id is not configured.
        InvalidSymbol = 14,
        /// INVALID_ASSET: the asset id is not configured.
        InvalidAsset = 15,
        /// INVALID_ORDER `Order value below minimum`: price × quantity (or the quote) is below
        /// the market's `min_order_value`.
        OrderValueBelowMinimum = 16,
    }
);
