import ApprovalTokens
import Foundation
import GatewayCore

/// The application layer: every use case of the gateway, each one transaction over the
/// repositories, each returning a typed outcome.
///
/// Channels (the inbox, the web pages and links, the JSON API, the command line) only translate
/// between their wire format and this service. Every rule lives here or in `GatewayCore`'s pure
/// policy: who may decide (``DecisionPolicy``), and the channel rules (single-use link tokens, the
/// link sign-in rule and confirmation code, reply-key expiry, answer limits, API key scopes).
///
/// ```swift
/// let service = ApprovalService(storage: store, keyRing: keys)
/// let outcome = try await service.decide(DecisionCommand(requestID: 7, action: .approve, proof: .session(viewer)))
/// ```
public struct ApprovalService: Sendable {
    /// Limits and lifetimes of the channel rules.
    public struct Settings: Sendable, Hashable {
        public var answerLimits = AnswerLimits()
        /// How long a session lasts after signing in.
        public var sessionLifetime: TimeInterval = 12 * 3600
        /// How long an emailed sign-in link works (LINK-7: at most 15 minutes).
        public var signInLinkLifetime: TimeInterval = 15 * 60
        /// Sign-in links requested per address, and per client address, in ``attemptWindow``.
        public var signInLimitPerAddress = 3
        public var signInLimitPerClient = 20
        /// Confirmation-code attempts per reviewer and request in ``attemptWindow``.
        public var linkCodeAttempts = 5
        public var attemptWindow: TimeInterval = 15 * 60
        /// Directory groups whose membership follows the identity provider's groups at each sign-in
        /// through it (`auth.oidc.synced_groups`); every other group is left alone.
        public var providerSyncedGroups: Set<String> = []

        public init() {}
    }

    public let storage: any GatewayStorage
    /// Signs sign-in links and checks confirmation codes; `nil` where no channel needs them (the
    /// command line), and then those use cases refuse.
    public let signer: TokenSigner?
    public let settings: Settings
    public let clock: any GatewayClock

    public init(storage: any GatewayStorage, keyRing: KeyRing?, settings: Settings = Settings(), clock: any GatewayClock = SystemClock()) {
        self.storage = storage
        self.signer = keyRing.map(TokenSigner.init(keyRing:))
        self.settings = settings
        self.clock = clock
    }

    var now: Date { clock.now }
}

extension AuditRepository {
    /// Appends an audit record, in this transaction.
    func audit(
        _ action: AuditAction, _ outcome: AuditOutcome, actor: String?, requestID: Int64? = nil, channel: DecisionChannel? = nil,
        reason: String? = nil, detail: [String: String] = [:], at now: Date
    ) throws {
        try appendAudit(AuditEntry(at: now, action: action, actor: actor, requestID: requestID, channel: channel, outcome: outcome, reason: reason, detail: detail))
    }
}
