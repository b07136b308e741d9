import Foundation
import GatewayApp
import GatewayTestSupport
import Testing

/// The installation id (the `Message-ID` domain part of every email, and what `/healthz` reads).
@Suite struct InstallationIDTests {
    @Test("The installation id is made once and the same from then on, for another connection too", arguments: StoreBackend.allCases)
    func madeOnce(backend: StoreBackend) async throws {
        let (gateway, location) = try await Fixture.gateway(backend)
        let first = try await gateway.store.installationID()
        #expect(first.count == 16 && first.allSatisfy(\.isHexDigit))
        #expect(try await gateway.store.installationID() == first)
        let other = try await backend.reopen(location, like: gateway)
        #expect(try await other.store.installationID() == first)
    }
}
