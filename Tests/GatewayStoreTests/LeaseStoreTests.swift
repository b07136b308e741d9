import Foundation
import GatewayApp
import GatewayTestSupport
import Testing

/// The database lease that lets one gateway at a time run the inbox, on both backends.
@Suite struct LeaseStoreTests {
    @Test("A lease has one holder; it is renewed by that holder, taken over once it runs out, and free at once when released", arguments: StoreBackend.allCases)
    func oneHolder(backend: StoreBackend) async throws {
        let store = try await backend.makeStore().store
        #expect(try await store.holdLease("inbox", holder: "gateway-a", duration: 30))
        #expect(try await store.holdLease("inbox", holder: "gateway-b", duration: 30) == false)
        #expect(try await store.holdLease("inbox", holder: "gateway-a", duration: 0.5), "the holder renews (here for a short time)")
        // Another lease is independent.
        #expect(try await store.holdLease("other", holder: "gateway-b", duration: 30))

        // gateway-a stops renewing (killed): once the lease runs out, gateway-b takes it.
        try await Task.sleep(for: .milliseconds(700))
        #expect(try await store.holdLease("inbox", holder: "gateway-b", duration: 30))
        #expect(try await store.holdLease("inbox", holder: "gateway-a", duration: 30) == false, "the old holder has lost it")

        // A graceful stop gives it up: no waiting.
        try await store.releaseLease("inbox", holder: "gateway-a") // not the holder: nothing happens
        #expect(try await store.holdLease("inbox", holder: "gateway-a", duration: 30) == false)
        try await store.releaseLease("inbox", holder: "gateway-b")
        #expect(try await store.holdLease("inbox", holder: "gateway-a", duration: 30))
    }

    @Test("Gateways racing for a free lease: exactly one wins", arguments: StoreBackend.allCases)
    func race(backend: StoreBackend) async throws {
        let store = try await backend.makeStore().store
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for n in 0..<8 { group.addTask { try await store.holdLease("inbox", holder: "gateway-\(n)", duration: 30) } }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(wins == 1)
    }
}
