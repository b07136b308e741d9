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
/// ``Policy/maxAttempts``; permanent ones (5xx) fail at once (SMTP-2, SMTP-3). A claim is a lease,
/// renewed while the batch is worked through: if the process dies, its emails are claimed again (by
/// another gateway, or by this one restarted) once the lease runs out, so nothing is lost.
public struct OutboxWorker: Service {
    public struct Policy: Sendable {
        public var maxAttempts: Int
        public var retryInitial: TimeInterval
        public var retryMax: TimeInterval
        /// How often to look for due emails when idle.
        public var pollInterval: Duration = .milliseconds(500)
        /// How long a claim lasts before another worker (another gateway, or this one restarted)
        /// may take the email: how long a killed gateway's emails wait.
        public var lease: TimeInterval = 20
        /// How often the claims of the batch in hand are renewed; well under ``lease``, so that a
        /// slow database round trip does not let a live claim run out.
        public var claimRenewal: Duration = .seconds(5)
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
        guard !entries.isEmpty else { return 0 }
        await withTaskGroup(of: Void.self) { group in
            // Keep the batch claimed while working through it, even through one slow send. Emails
            // already finished are no longer `sending`, so the renewal passes them by.
            group.addTask { await renewClaims(ids: entries.map(\.id)) }
            await process(entries)
            group.cancelAll()
        }
        return entries.count
    }

    private func process(_ entries: [OutboxEntry]) async {
        for (index, entry) in entries.enumerated() {
            // On graceful shutdown, finish the email in hand and give the rest of the batch back, so
            // that the next start (or another gateway) sends them at once instead of after the lease.
            if Task.isShuttingDownGracefully || Task.isCancelled {
                let rest = entries[index...].map(\.id)
                do {
                    try await store.releaseOutboxClaims(ids: rest)
                    logger.info("outbox: shutting down; \(rest.count) claimed emails released for the next start")
                } catch {
                    logger.warning("outbox: shutting down; \(rest.count) claimed emails are sent after their lease: \(error)")
                }
                return
            }
            await process(entry)
        }
    }

    private func renewClaims(ids: [Int64]) async {
        while true {
            do {
                try await Task.sleep(for: policy.claimRenewal)
            } catch {
                return  // the batch is done
            }
            do {
                try await store.extendOutboxClaims(ids: ids, until: clock.now.addingTimeInterval(policy.lease))
            } catch {
                logger.warning("outbox: cannot renew the claims of the batch in hand: \(error)")
            }
        }
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
        // Prepared before sending: between SMTP's acceptance and the record of it, a crash means
        // the email is sent again once its claim runs out, so that gap is kept to one write.
        let record = SentMessageRecord(raw: raw, replyAddress: renderer.settings.replyAddress)
        do throws(DeliveryFailure) {
            try await sender.send(raw: raw, from: bounceAddress?.address(for: entry.id) ?? renderer.settings.fromAddress, to: entry.recipient)
        } catch {
            await recordFailure(error, of: entry)
            return
        }
        do {
            try await store.markOutboxSent(id: entry.id, now: clock.now, retainedHeaders: record.headers, bodyDigest: record.digest)
            logger.info("sent \(entry.kind.rawValue) for request \(entry.requestID.map(String.init) ?? "-") to \(entry.recipient)", metadata: ["message_id": "\(messageID ?? "")"])
        } catch {
            // Sent but not recorded: the claim will run out and the email is sent again with the
            // same Message-ID (at least once is the most SMTP itself can promise).
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
