import Foundation
import GatewayApp
import GatewayMail
import GatewayPostgres
import GatewayTestSupport
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// `LeasedService` on PostgreSQL: the inbox runs on one gateway, and another takes over when the
/// holder dies without giving the lease up.
@Suite("Leased services")
struct LeasedServiceTests {
    /// A service that counts how often it started, on which gateway, and runs until stopped.
    final class Recorder: Sendable {
        let starts = Mutex<[String]>([])

        func service(_ gateway: String) -> any Service {
            RecordingService(gateway: gateway, recorder: self)
        }
    }

    struct RecordingService: Service {
        let gateway: String
        let recorder: Recorder

        func run() async throws {
            recorder.starts.withLock { $0.append(gateway) }
            try? await gracefulShutdown()
        }
    }

    @Test("a lease left by a dead holder is taken over once it runs out, within the lease and one renewal")
    func takeoverAfterDeadHolder() async throws {
        let url = try await PostgresLab.freshDatabase("lease")
        let store = try await PostgresStore.open(url: url, password: PostgresLab.password)
        // A gateway that took the lease and was then killed (it never renews or releases). The lease
        // runs 2 s from its transaction's start, which is after `taken` however slow the call is.
        let taken = ContinuousClock.now
        #expect(try await store.holdLease("inbox", holder: "killed-gateway", duration: 2))
        let recorder = Recorder()
        let survivor = LeasedService(
            name: "inbox", holder: "survivor", store: store, timing: .init(duration: 2, renewEvery: .milliseconds(250)),
            logger: Logger(label: "test"), makeService: { recorder.service("survivor") }
        )
        let running = Task { try await survivor.run() }
        while recorder.starts.withLock({ $0.isEmpty }), ContinuousClock.now - taken < .seconds(20) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let takeover = ContinuousClock.now - taken
        running.cancel()
        _ = try? await running.value
        await store.close()
        #expect(recorder.starts.withLock { $0 } == ["survivor"])
        #expect(takeover >= .seconds(1.9), "took the lease before it ran out: \(takeover)")
        // The lease (2 s) and one renewal period, about 3 s quiet; the requirement is 10 s, which
        // is also what a loaded machine (the parallel suite) gets.
        #expect(takeover < .seconds(10), "took too long: \(takeover)")
    }

    @Test("two gateways: the service runs on one only")
    func oneAtATime() async throws {
        let url = try await PostgresLab.freshDatabase("lease2")
        let stores = [try await PostgresStore.open(url: url, password: PostgresLab.password), try await PostgresStore.open(url: url, password: PostgresLab.password)]
        let recorder = Recorder()
        let tasks = stores.enumerated().map { index, store in
            let service = LeasedService(
                name: "inbox", holder: "gateway-\(index)", store: store, timing: .init(duration: 2, renewEvery: .milliseconds(200)),
                logger: Logger(label: "test"), makeService: { recorder.service("gateway-\(index)") }
            )
            return Task { try await service.run() }
        }
        try await Task.sleep(for: .seconds(1.5))
        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }
        for store in stores { await store.close() }
        #expect(recorder.starts.withLock { $0.count } == 1)
    }
}
