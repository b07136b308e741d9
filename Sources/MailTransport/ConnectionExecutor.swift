import Dispatch

/// A serial executor backed by one private `DispatchQueue` per connection.
///
/// ``SMTPSender`` and ``IMAPMailbox`` are actors whose `unownedExecutor` is one of these, so all
/// of their code, including every blocking libcurl call, runs on the connection's own queue and
/// never on Swift's cooperative thread pool. Callers simply `await` the actor's methods; the actor
/// serialises them, which is exactly the "one handle, one thread at a time" rule libcurl needs.
final class ConnectionExecutor: SerialExecutor {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label, qos: .utility)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}
