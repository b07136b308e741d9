import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import Logging
import ServiceLifecycle

/// Sends the outbox: claims due emails, renders each once (keeping the first rendering, so a retry
/// resends the same Message-ID), sends over one reused SMTP connection, and records the result.
///
/// Transient failures (4xx, connection, timeout) are retried with exponential backoff and jitter up to
/// ``Policy/maxAttempts``; permanent ones (5xx) fail at once (SMTP-2, SMTP-3). A claim is a lease: if
/// the process dies mid-send, the email is claimed again when the lease runs out, so nothing is lost.
public struct OutboxWorker: Service {
    public struct Policy: Sendable {
        public var maxAttempts: Int
        public var retryInitial: TimeInterval
        public var retryMax: TimeInterval
        /// How often to look for due emails when idle.
        public var pollInterval: Duration = .milliseconds(500)
        /// How long a claim lasts before another worker (another gateway, or this one restarted)
        /// may take the email. The worker extends it while it works through a batch, so it only
        /// needs to outlast one send (keep it above twice the SMTP timeout).
        public var lease: TimeInterval = 90
        public var batchSize = 50

        public init(maxAttempts: Int, retryInitial: TimeInterval, retryMax: TimeInterval) {
            self.maxAttempts = maxAttempts
            self.retryInitial = retryInitial
            self.retryMax = retryMax
        }

        /// The delay before attempt `attempt + 1`, with ±20 % jitter.
        func retryDelay(afterAttempt attempt: Int) -> TimeInterval {
            let base = min(retryMax, retryInitial * pow(2, Double(max(0, attempt - 1))))
            return base * Double.random(in: 0.8...1.2)
        }
    }

    let store: any GatewayStorage
    let renderer: NotificationRenderer
    let sender: any EmailSending
    let policy: Policy
    let clock: any GatewayClock
    let logger: Logger
    /// The signed envelope sender per email (VERP), so that a bounce names its email (LOOP-5);
    /// `nil` sends from the gateway's address.
    let bounceAddress: BounceAddress?

    public init(
        store: any GatewayStorage, renderer: NotificationRenderer, sender: any EmailSending, policy: Policy,
        bounceAddress: BounceAddress? = nil, clock: any GatewayClock = SystemClock(), logger: Logger
    ) {
        self.bounceAddress = bounceAddress
        self.store = store
        self.renderer = renderer
        self.sender = sender
        self.policy = policy
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        logger.info("outbox worker started")
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let sent: Int
            do {
                sent = try await drainOnce()
            } catch {
                logger.error("outbox: \(error)")
                sent = 0
            }
            if sent == 0 {
                await sleepUnlessShuttingDown(for: policy.pollInterval)
            }
        }
        logger.info("outbox worker stopped")
    }

    /// Claims and processes one batch of due emails.
    /// - Returns: how many were claimed.
    @discardableResult
    public func drainOnce() async throws -> Int {
        let entries = try await store.claimOutbox(now: clock.now, limit: policy.batchSize, lease: policy.lease)
        var claimedUntil = clock.now.addingTimeInterval(policy.lease)
        for (index, entry) in entries.enumerated() {
            // Keep the rest of the batch claimed while working through it.
            if claimedUntil.timeIntervalSince(clock.now) < policy.lease * 2 / 3 {
                claimedUntil = clock.now.addingTimeInterval(policy.lease)
                try await store.extendOutboxClaims(ids: entries[index...].map(\.id), until: claimedUntil)
            }
            // On graceful shutdown, finish the email in hand and give the rest of the batch back, so
            // that the next start (or another gateway) sends them at once instead of after the lease.
            if Task.isShuttingDownGracefully || Task.isCancelled {
                let rest = entries[index...].map(\.id)
                try await store.releaseOutboxClaims(ids: rest)
                logger.info("outbox: shutting down; \(rest.count) claimed emails released for the next start")
                break
            }
            await process(entry)
        }
        return entries.count
    }

    func process(_ entry: OutboxEntry) async {
        var raw = entry.rawMessage
        var messageID = entry.messageID
        if raw == nil {
            do {
                let rendered = try await renderer.render(entry, now: clock.now)
                // A sign-in email is rendered afresh on each attempt: its link is never stored.
                try await store.saveRenderedMessage(id: entry.id, messageID: rendered.messageID, raw: entry.kind == .signIn ? nil : rendered.raw)
                raw = rendered.raw
                messageID = rendered.messageID
            } catch {
                logger.error("outbox: cannot render email \(entry.id) (\(entry.kind.rawValue) to \(entry.recipient)): \(error)")
                try? await store.markOutboxFailed(id: entry.id, error: "render: \(error)", now: clock.now)
                return
            }
        }
        guard let raw else { return }
        do throws(DeliveryFailure) {
            try await sender.send(raw: raw, from: bounceAddress?.address(for: entry.id) ?? renderer.settings.fromAddress, to: entry.recipient)
        } catch {
            await recordFailure(error, of: entry)
            return
        }
        do {
            let record = SentMessageRecord(raw: raw, replyAddress: renderer.settings.replyAddress)
            try await store.markOutboxSent(id: entry.id, now: clock.now, retainedHeaders: record.headers, bodyDigest: record.digest)
            logger.info("sent \(entry.kind.rawValue) for request \(entry.requestID.map(String.init) ?? "-") to \(entry.recipient)", metadata: ["message_id": "\(messageID ?? "")"])
        } catch {
            // Sent but not recorded: the lease will run out and SMTP may deliver it twice, which is
            // the most SMTP itself can promise.
            logger.error("email \(entry.id) was sent but could not be marked sent: \(error)")
        }
    }

    func recordFailure(_ error: DeliveryFailure, of entry: OutboxEntry) async {
        let attempts = entry.attempts + 1
        let now = clock.now
        if error.isTransient, attempts < policy.maxAttempts {
            let delay = policy.retryDelay(afterAttempt: attempts)
            logger.warning("email \(entry.id) to \(entry.recipient) not sent (attempt \(attempts) of \(policy.maxAttempts)), retrying in \(Int(delay))s: \(error.message)")
            try? await store.markOutboxRetry(id: entry.id, error: error.message, retryAt: now.addingTimeInterval(delay))
        } else {
            let why = error.isTransient ? "gave up after \(attempts) attempts: " : ""
            logger.error("email \(entry.id) to \(entry.recipient) failed: \(why)\(error.message)")
            try? await store.markOutboxFailed(id: entry.id, error: why + error.message, now: now)
        }
    }
}
