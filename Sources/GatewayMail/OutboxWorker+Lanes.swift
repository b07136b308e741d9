import GatewayApp
import GatewayCore
import Synchronization

extension OutboxWorker {
    /// The emails of a batch waiting for a connection, handed out so that each recipient's emails
    /// leave in the order they were queued (a person never gets "approved" before "please review"),
    /// while emails to different people go out side by side over several connections.
    actor DeliveryQueue {
        private var waiting: [OutboxEntry]
        private var recipientsInFlight: Set<String> = []
        private var idleLanes: [CheckedContinuation<OutboxEntry?, Never>] = []

        init(_ entries: [OutboxEntry]) {
            waiting = entries
        }

        /// The next email to send, or `nil` when every email has been handed out. Waits while the
        /// only emails left are for people whose earlier email is still being sent.
        func next() async -> OutboxEntry? {
            if let entry = takeSendable() { return entry }
            if waiting.isEmpty { return nil }
            return await withCheckedContinuation { idleLanes.append($0) }
        }

        /// Marks `entry`'s recipient free again and wakes the lanes that can now go on.
        func finished(_ entry: OutboxEntry) {
            recipientsInFlight.remove(entry.recipient)
            while !idleLanes.isEmpty {
                if let entry = takeSendable() {
                    idleLanes.removeFirst().resume(returning: entry)
                } else if waiting.isEmpty {
                    idleLanes.removeFirst().resume(returning: nil)
                } else {
                    break
                }
            }
        }

        /// Empties the queue (graceful shutdown): what was never handed out, for release.
        func takeRest() -> [OutboxEntry] {
            defer {
                waiting.removeAll()
                for lane in idleLanes { lane.resume(returning: nil) }
                idleLanes.removeAll()
            }
            return waiting
        }

        private func takeSendable() -> OutboxEntry? {
            guard let index = waiting.firstIndex(where: { !recipientsInFlight.contains($0.recipient) }) else { return nil }
            let entry = waiting.remove(at: index)
            recipientsInFlight.insert(entry.recipient)
            return entry
        }
    }

    /// Records emails SMTP accepted as sent, the records of several lanes in one transaction
    /// (group commit). A lane waits for its own record before it sends its next email, so a crash
    /// still leaves at most one accepted, unrecorded email per lane.
    actor SentRecorder {
        private let store: any GatewayStorage
        private var waiting: [(OutboxDelivery, CheckedContinuation<Result<Void, any Error>, Never>)] = []
        private var committing = false

        init(store: any GatewayStorage) {
            self.store = store
        }

        func record(_ delivery: OutboxDelivery) async throws {
            // A commit is under way: the next one takes this record along.
            guard !committing else {
                return try await withCheckedContinuation { waiting.append((delivery, $0)) }.get()
            }
            committing = true
            let own = await commit([delivery])
            // Records that came in meanwhile, a transaction per round, until none is left.
            while !waiting.isEmpty {
                let round = waiting
                waiting.removeAll()
                let result = await commit(round.map(\.0))
                for (_, lane) in round { lane.resume(returning: result) }
            }
            committing = false
            try own.get()
        }

        private func commit(_ deliveries: [OutboxDelivery]) async -> Result<Void, any Error> {
            do {
                try await store.markOutboxSent(deliveries)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
    }

    /// The ids of the emails this worker has claimed and not yet finished: the claims it renews.
    final class ClaimsInHand: Sendable {
        private let ids = Mutex<Set<Int64>>([])

        func add(_ new: some Sequence<Int64>) { ids.withLock { $0.formUnion(new) } }
        func remove(_ id: Int64) { _ = ids.withLock { $0.remove(id) } }
        func remove(_ old: some Sequence<Int64>) { ids.withLock { $0.subtract(old) } }
        var current: [Int64] { ids.withLock { Array($0) } }
    }
}
