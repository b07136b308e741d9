import Foundation
import GatewayCore
import GatewayWeb
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Client addresses behind a reverse proxy: `X-Forwarded-For` counts only from `http.trusted_proxies`.
@Suite struct TrustedProxyTests {
    /// Asks for a sign-in link for a new address each time, as `client` (via `X-Forwarded-For`).
    func askSignIn(_ browser: WebClient, client: String?, index: Int) async throws -> HTTPResponse.Status {
        let page = try await browser.get("/login")
        let headers: HTTPFields = client.map { [.xForwardedFor: "\($0), 127.0.0.1"] } ?? [:]
        return try await browser.post("/login", [("csrf", try #require(page.field("csrf"))), ("email", "nobody\(index)@example.test")], headers: headers).status
    }

    @Test("Behind a trusted proxy each client has its own sign-in limit; a client cannot forge its address")
    func signInLimitsPerForwardedClient() async throws {
        let fixture = try await WebFixture(settings: { $0.trustedProxies = [IPAddressRange("127.0.0.1")!] })
        try await fixture.application().test(.live) { client in
            let browser = WebClient(client)
            // 25 people behind the proxy, each asking once: nobody is locked out.
            for index in 0..<25 {
                #expect(try await askSignIn(browser, client: "203.0.113.\(index + 1)", index: index) == .ok)
            }
            // One client asking 21 times is limited at 20.
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<21 { statuses.append(try await askSignIn(browser, client: "198.51.100.7", index: 100 + index)) }
            #expect(statuses.prefix(20).allSatisfy { $0 == .ok } && statuses.last == .tooManyRequests)
        }
    }

    @Test("Without trusted proxies X-Forwarded-For is ignored: the peer is the client")
    func forwardedForIgnoredFromUntrustedPeers() async throws {
        let fixture = try await WebFixture()
        try await fixture.application().test(.live) { client in
            let browser = WebClient(client)
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<21 { statuses.append(try await askSignIn(browser, client: "203.0.113.\(index + 1)", index: index)) }
            #expect(statuses.prefix(20).allSatisfy { $0 == .ok } && statuses.last == .tooManyRequests)
        }
    }
}
