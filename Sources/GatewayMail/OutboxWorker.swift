import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import Logging
import ServiceLifecycle

/// Sends the outbox: claims due emails a batch at a time, renders each once (keeping the first
/// rendering, so a retry resends the same Message-ID), sends them over one or more reused SMTP
/// connections, and records each result as it comes.
///
/// A batch is rendered from one read of the database and its renderings kept in one transaction;
/// while it is on the wire, the next batch is claimed and rendered. Each connection is a lane
/// taking the next email of the batch; one person's emails leave in the order they were queued.
/// Each email is recorded as sent right after SMTP accepted it, before its connection sends the
/// next (the records of several connections share a transaction), so a crash sends again at most
/// the emails in hand, one per connection.
///
/// Transient failures (4xx, connection, timeout) are retried with exponential backoff and jitter up to
/// ``Policy/maxAttempts``; permanent ones (5xx) fail at once (SMTP-2, SMTP-3). A claim is a lease,
/// renewed while the worker holds it: if the process dies, its emails are claimed again (by
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
        /// How often the claims in hand are renewed; well under ``lease``, so that a slow database
        /// round trip does not let a live claim run out.
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

    /// An email ready for SMTP: its outbox entry and the bytes to send.
    struct ReadyEmail: Sendable {
        var entry: OutboxEntry
        var raw: [UInt8]
        var messageID: String?
    }

    let store: any GatewayStorage
    let renderer: NotificationRenderer
    /// One per SMTP connection; each is a lane of its own.
    let senders: [any EmailSending]
    let policy: Policy
    let clock: any GatewayClock
    let logger: Logger
    /// The signed envelope sender per email (VERP), so that a bounce names its email (LOOP-5);
    /// `nil` sends from the gateway's address.
    let bounceAddress: BounceAddress?
    let recorder: SentRecorder

    /// A worker sending over `senders`, one lane per connection (at least one).
    public init(
        store: any GatewayStorage, renderer: NotificationRenderer, senders: [any EmailSending], policy: Policy,
        bounceAddress: BounceAddress? = nil, clock: any GatewayClock = SystemClock(), logger: Logger
    ) {
        precondition(!senders.isEmpty, "an outbox worker needs at least one connection")
        self.bounceAddress = bounceAddress
        self.store = store
        self.renderer = renderer
        self.senders = senders
        self.policy = policy
        self.clock = clock
        self.logger = logger
        self.recorder = SentRecorder(store: store)
    }

    /// A worker sending over one connection.
    public init(
        store: any GatewayStorage, renderer: NotificationRenderer, sender: any EmailSending, policy: Policy,
        bounceAddress: BounceAddress? = nil, clock: any GatewayClock = SystemClock(), logger: Logger
    ) {
        self.init(store: store, renderer: renderer, senders: [sender], policy: policy, bounceAddress: bounceAddress, clock: clock, logger: logger)
    }

    public func run() async throws {
        logger.info("outbox worker started (\(senders.count) SMTP connection\(senders.count == 1 ? "" : "s"))")
        let claims = ClaimsInHand()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await renewClaims(claims) }
            await deliverUntilShutdown(claims)
            group.cancelAll()
        }
        logger.info("outbox worker stopped")
    }

    /// Claims, renders and sends batch after batch, the next one prepared while the last is sent.
    private func deliverUntilShutdown(_ claims: ClaimsInHand) async {
        var prefetched: [ReadyEmail] = []
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let batch = prefetched.isEmpty ? await prepareLogged(claims) : prefetched
            prefetched = []
            guard !batch.isEmpty else {
                await sleepUnlessShuttingDown(for: policy.pollInterval)
                continue
            }
            // Claim and render the following batch while this one is on the wire.
            async let following = prepareLogged(claims)
            await deliver(batch, claims: claims)
            prefetched = await following
        }
        // Shutting down with a batch prepared: give it back for the next start or another gateway.
        await release(prefetched.map(\.entry.id), claims: claims)
    }

    /// Claims and processes one batch of due emails.
    /// - Returns: how many were claimed.
    @discardableResult
    public func drainOnce() async throws -> Int {
        let claims = ClaimsInHand()
        let claimed = try await claimBatch(claims)
        guard !claimed.isEmpty else { return 0 }
        await withTaskGroup(of: Void.self) { group in
            // Keep the batch claimed while working through it, even through one slow send.
            group.addTask { await renewClaims(claims) }
            await deliver(await prepare(claimed, claims: claims), claims: claims)
            group.cancelAll()
        }
        return claimed.count
    }

    private func claimBatch(_ claims: ClaimsInHand) async throws -> [OutboxEntry] {
        let entries = try await store.claimOutbox(now: clock.now, limit: policy.batchSize, lease: policy.lease)
        claims.add(entries.map(\.id))
        return entries
    }

    private func prepareLogged(_ claims: ClaimsInHand) async -> [ReadyEmail] {
        guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return [] }
        do {
            return await prepare(try await claimBatch(claims), claims: claims)
        } catch {
            logger.error("outbox: \(error)")
            return []
        }
    }

    /// Renders the claimed emails that have no rendering yet, from one read of the database, and
    /// keeps their renderings in one transaction before any is sent. An email that cannot be
    /// rendered fails alone.
    func prepare(_ entries: [OutboxEntry], claims: ClaimsInHand) async -> [ReadyEmail] {
        let unrendered = entries.filter { $0.rawMessage == nil }
        var facts: RenderFacts?
        if !unrendered.isEmpty {
            do {
                facts = try await RenderFacts.read(for: unrendered, from: store)
            } catch {
                // The database is unreachable: give the batch back to be tried again.
                logger.error("outbox: cannot read what \(unrendered.count) emails need to be rendered: \(error)")
                await release(entries.map(\.id), claims: claims)
                return []
            }
        }
        let now = clock.now
        var ready: [ReadyEmail] = []
        var renderings: [RenderedOutboxMessage] = []
        for entry in entries {
            if let raw = entry.rawMessage {
                ready.append(ReadyEmail(entry: entry, raw: raw, messageID: entry.messageID))
                continue
            }
            do {
                let rendered = try renderer.render(entry, facts: facts!, now: now)
                // A sign-in email is rendered afresh on each attempt: its link is never stored.
                renderings.append(RenderedOutboxMessage(id: entry.id, messageID: rendered.messageID, raw: entry.kind == .signIn ? nil : rendered.raw))
                ready.append(ReadyEmail(entry: entry, raw: rendered.raw, messageID: rendered.messageID))
            } catch {
                logger.error("outbox: cannot render email \(entry.id) (\(entry.kind.rawValue) to \(entry.recipient)): \(error)")
                try? await store.markOutboxFailed(id: entry.id, error: "render: \(error)", now: now)
                claims.remove(entry.id)
            }
        }
        do {
            try await store.saveRenderedMessages(renderings)
        } catch {
            // Nothing may leave before its rendering is kept: a retry must resend the same message.
            logger.error("outbox: cannot keep the renderings of \(renderings.count) emails: \(error)")
            await release(ready.map(\.entry.id), claims: claims)
            return []
        }
        return ready
    }

    /// Sends `batch` over every connection at once and records each result as it comes. On
    /// graceful shutdown each connection finishes the email in hand, and the rest is given back.
    func deliver(_ batch: [ReadyEmail], claims: ClaimsInHand) async {
        let byID = Dictionary(batch.map { ($0.entry.id, $0) }, uniquingKeysWith: { first, _ in first })
        let queue = DeliveryQueue(batch.map(\.entry))
        await withTaskGroup(of: Void.self) { group in
            for sender in senders {
                group.addTask {
                    while let entry = await queue.next() {
                        if Task.isShuttingDownGracefully || Task.isCancelled {
                            await queue.finished(entry)
                            await release([entry.id], claims: claims)
                            break
                        }
                        await send(byID[entry.id]!, over: sender)
                        claims.remove(entry.id)
                        await queue.finished(entry)
                    }
                }
            }
        }
        let rest = await queue.takeRest().map(\.id)
        if !rest.isEmpty {
            await release(rest, claims: claims)
            logger.info("outbox: shutting down; \(rest.count) claimed emails released for the next start")
        }
    }

    /// Gives claimed emails back: they are due again at once, here or on another gateway.
    private func release(_ ids: [Int64], claims: ClaimsInHand) async {
        guard !ids.isEmpty else { return }
        do {
            try await store.releaseOutboxClaims(ids: ids)
        } catch {
            logger.warning("outbox: \(ids.count) claimed emails are sent after their lease: \(error)")
        }
        claims.remove(ids)
    }

    private func renewClaims(_ claims: ClaimsInHand) async {
        while true {
            do {
                try await Task.sleep(for: policy.claimRenewal)
            } catch {
                return  // the worker is done
            }
            do {
                try await store.extendOutboxClaims(ids: claims.current, until: clock.now.addingTimeInterval(policy.lease))
            } catch {
                logger.warning("outbox: cannot renew the claims in hand: \(error)")
            }
        }
    }

    private func send(_ email: ReadyEmail, over sender: any EmailSending) async {
        let entry = email.entry
        // Prepared before sending: between SMTP's acceptance and the record of it, a crash means
        // the email is sent again once its claim runs out, so that gap is kept to one write.
        let record = SentMessageRecord(raw: email.raw, replyAddress: renderer.settings.replyAddress)
        do throws(DeliveryFailure) {
            try await sender.send(raw: email.raw, from: bounceAddress?.address(for: entry.id) ?? renderer.settings.fromAddress, to: entry.recipient)
        } catch {
            await recordFailure(error, of: entry)
            return
        }
        do {
            try await recorder.record(OutboxDelivery(id: entry.id, sentAt: clock.now, retainedHeaders: record.headers, bodyDigest: record.digest))
            logger.info("sent \(entry.kind.rawValue) for request \(entry.requestID.map(String.init) ?? "-") to \(entry.recipient)", metadata: ["message_id": "\(email.messageID ?? "")"])
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
