import Crypto
import _CryptoExtras
import Foundation
import GatewayApp
import GatewayCore
import GatewayOIDC
import GatewayTestSupport
import Hummingbird
import HummingbirdTesting
import JWTKit
import Synchronization
import Testing

/// A provider of this test's making, served over real HTTP on loopback: its keys sign whatever ID
/// token a test wants, so that every check of ``OpenIDProvider`` meets a token that should fail it.
/// (The whole flow against a real OpenID provider is in the web tests.)
final class CraftedProvider: Sendable {
    struct State {
        var keys: [String: JWTKeyCollection] = [:]
        var published: [[String: String]] = []
        var nextToken = ""
        var jwksFetches = 0
    }
    let state = Mutex(State())

    /// Adds a signing key: `ES256` or `RS256`, published under `kid`.
    func addKey(_ algorithm: String, kid: String) async throws {
        let collection = JWTKeyCollection()
        var jwk = ["kid": kid, "use": "sig", "alg": algorithm]
        if algorithm == "ES256" {
            let key = try ES256PrivateKey(backing: P256.Signing.PrivateKey())
            await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
            let parameters = try #require(key.parameters)
            jwk.merge(["kty": "EC", "crv": "P-256", "x": parameters.x, "y": parameters.y]) { $1 }
        } else {
            let key = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
            await collection.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
            let primitives = try key.publicKey.getKeyPrimitives()
            jwk.merge(["kty": "RSA", "n": Self.base64URL(primitives.modulus), "e": Self.base64URL(primitives.publicExponent)]) { $1 }
        }
        state.withLock {
            $0.keys[kid] = collection
            $0.published.append(jwk)
        }
    }

    func removeKey(_ kid: String) {
        state.withLock { state in
            state.keys[kid] = nil
            state.published.removeAll { $0["kid"] == kid }
        }
    }

    /// Signs `claims` with key `kid` and queues the result as the token endpoint's next ID token.
    func queue(_ claims: IDTokenClaims, kid: String) async throws {
        let collection = try #require(state.withLock { $0.keys[kid] })
        let token = try await collection.sign(claims, kid: JWKIdentifier(string: kid))
        state.withLock { $0.nextToken = token }
    }

    func queue(rawToken: String) { state.withLock { $0.nextToken = rawToken } }
    var jwksFetches: Int { state.withLock { $0.jwksFetches } }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/.well-known/openid-configuration") { request, _ -> Response in
            let issuer = "http://" + (request.head.authority ?? "127.0.0.1")
            let document: [String: Any] = [
                "issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
                "jwks_uri": issuer + "/jwks", "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            ]
            return Self.json(document)
        }
        router.get("/jwks") { _, _ -> Response in
            let keys = self.state.withLock { state in
                state.jwksFetches += 1
                return state.published
            }
            return Self.json(["keys": keys])
        }
        router.post("/token") { _, _ -> Response in
            Self.json(["access_token": "opaque", "token_type": "Bearer", "id_token": self.state.withLock { $0.nextToken }])
        }
        return router
    }

    static func json(_ object: Any) -> Response {
        let data = try! JSONSerialization.data(withJSONObject: object)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

@Suite("ID token verification") struct IDTokenVerificationTests {
    static let clientID = "approval-gateway"

    /// Runs `body` with a crafted provider on loopback and a gateway-side ``OpenIDProvider`` for it.
    func withProvider(_ body: @escaping @Sendable (CraftedProvider, OpenIDProvider, String, TestClock) async throws -> Void) async throws {
        let crafted = CraftedProvider()
        try await crafted.addKey("RS256", kid: "rsa-1")
        try await crafted.addKey("ES256", kid: "ec-1")
        let app = Application(router: crafted.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let issuer = "http://127.0.0.1:\(client.port!)"
            let clock = TestClock()
            var configuration = OpenIDProvider.Configuration(issuer: issuer, clientID: Self.clientID, clientSecret: "s3cret", scopes: ["openid", "email"], displayName: "Crafted")
            configuration.keyRefreshInterval = 0
            let provider = try OpenIDProvider(configuration: configuration, clock: clock)
            try await body(crafted, provider, issuer, clock)
            await provider.shutdown()
        }
    }

    func claims(issuer: String, clock: TestClock, nonce: String, audience: [String] = [clientID], expiresIn: TimeInterval = 300) -> IDTokenClaims {
        IDTokenClaims(
            issuer: issuer, subject: "sub-1", audience: audience, expiresAt: clock.now.addingTimeInterval(expiresIn), issuedAt: clock.now,
            nonce: nonce, email: "approver1@example.test", emailVerified: true
        )
    }

    func refusal(_ provider: OpenIDProvider, _ attempt: ProviderSignInAttempt) async -> IdentityProviderError? {
        do {
            _ = try await provider.identity(code: "code", attempt: attempt, redirectURI: "http://gateway.test/auth/oidc/callback")
            return nil
        } catch {
            return error as? IdentityProviderError
        }
    }

    @Test("RS256 and ES256 tokens with every claim right are accepted", arguments: ["rsa-1", "ec-1"])
    func accepted(kid: String) async throws {
        try await withProvider { crafted, provider, issuer, clock in
            let attempt = ProviderSignInAttempt.start(returnTo: "/requests", now: clock.now)
            try await crafted.queue(claims(issuer: issuer, clock: clock, nonce: attempt.nonce), kid: kid)
            let identity = try await provider.identity(code: "code", attempt: attempt, redirectURI: "http://gateway.test/cb")
            #expect(identity.email == "approver1@example.test" && identity.emailVerified && identity.subject == "sub-1" && identity.issuer == issuer)
        }
    }

    @Test("A tampered token (claims changed after signing) is refused")
    func tampered() async throws {
        try await withProvider { crafted, provider, issuer, clock in
            let attempt = ProviderSignInAttempt.start(returnTo: "/requests", now: clock.now)
            try await crafted.queue(claims(issuer: issuer, clock: clock, nonce: attempt.nonce), kid: "rsa-1")
            let token = crafted.state.withLock { $0.nextToken }
            var parts = token.split(separator: ".").map(String.init)
            var payload = try JSONSerialization.jsonObject(with: Data(base64URL: parts[1])) as! [String: Any]
            payload["email"] = "admin@example.test"
            parts[1] = CraftedProvider.base64URL(try JSONSerialization.data(withJSONObject: payload))
            crafted.queue(rawToken: parts.joined(separator: "."))
            let error = await refusal(provider, attempt)
            #expect(error?.kind == .invalidToken)
            #expect(error?.message.contains("signature") == true)
        }
    }

    @Test("A token for another client (wrong audience), an expired one, another attempt's nonce and another issuer are refused")
    func claimChecks() async throws {
        try await withProvider { crafted, provider, issuer, clock in
            let attempt = ProviderSignInAttempt.start(returnTo: "/requests", now: clock.now)
            let cases: [(IDTokenClaims, String)] = [
                (claims(issuer: issuer, clock: clock, nonce: attempt.nonce, audience: ["someone-else"]), "not this gateway"),
                (claims(issuer: issuer, clock: clock, nonce: attempt.nonce, expiresIn: -120), "expired"),
                (claims(issuer: issuer, clock: clock, nonce: "another-attempt"), "nonce"),
                (claims(issuer: "http://127.0.0.1:1", clock: clock, nonce: attempt.nonce), "issuer"),
            ]
            for (claims, expected) in cases {
                try await crafted.queue(claims, kid: "ec-1")
                let error = await refusal(provider, attempt)
                #expect(error?.kind == .invalidToken, "\(expected)")
                #expect(error?.message.contains(expected) == true, "\(error?.message ?? "accepted"): expected \(expected)")
            }
            // Within the minute of clock skew allowed, an expiry just passed still counts.
            try await crafted.queue(claims(issuer: issuer, clock: clock, nonce: attempt.nonce, expiresIn: -30), kid: "ec-1")
            #expect(await refusal(provider, attempt) == nil)
        }
    }

    @Test("Unsigned (alg none) and shared-secret (HS256 over the public key) tokens are refused")
    func algorithms() async throws {
        try await withProvider { crafted, provider, issuer, clock in
            let attempt = ProviderSignInAttempt.start(returnTo: "/requests", now: clock.now)
            let payload = CraftedProvider.base64URL(try JSONEncoder().encode(claims(issuer: issuer, clock: clock, nonce: attempt.nonce)))
            let none = CraftedProvider.base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8))
            crafted.queue(rawToken: none + "." + payload + ".")
            #expect(await refusal(provider, attempt)?.message.contains("not accepted") == true)
            let hs = CraftedProvider.base64URL(Data(#"{"alg":"HS256","typ":"JWT","kid":"rsa-1"}"#.utf8))
            let jwks = crafted.state.withLock { $0.published.first { $0["kid"] == "rsa-1" }! }
            let mac = HMAC<SHA256>.authenticationCode(for: Data((hs + "." + payload).utf8), using: SymmetricKey(data: Data(jwks["n"]!.utf8)))
            crafted.queue(rawToken: hs + "." + payload + "." + CraftedProvider.base64URL(Data(mac)))
            #expect(await refusal(provider, attempt)?.message.contains("not accepted") == true)
        }
    }

    @Test("Key rotation: a token signed with a key published after the gateway cached the key set is accepted once the set is fetched again")
    func rotation() async throws {
        try await withProvider { crafted, provider, issuer, clock in
            let attempt = ProviderSignInAttempt.start(returnTo: "/requests", now: clock.now)
            try await crafted.queue(claims(issuer: issuer, clock: clock, nonce: attempt.nonce), kid: "rsa-1")
            _ = try await provider.identity(code: "code", attempt: attempt, redirectURI: "http://gateway.test/cb")
            #expect(crafted.jwksFetches == 1)
            // The provider rotates: a new key, the old one withdrawn.
            try await crafted.addKey("RS256", kid: "rsa-2")
            crafted.removeKey("rsa-1")
            try await crafted.queue(claims(issuer: issuer, clock: clock, nonce: attempt.nonce), kid: "rsa-2")
            let identity = try await provider.identity(code: "code", attempt: attempt, redirectURI: "http://gateway.test/cb")
            #expect(identity.subject == "sub-1")
            #expect(crafted.jwksFetches == 2)
            // A key id nobody published is refused after one more look.
            crafted.queue(rawToken: try await {
                let stray = CraftedProvider()
                try await stray.addKey("RS256", kid: "stray")
                try await stray.queue(claims(issuer: issuer, clock: clock, nonce: attempt.nonce), kid: "stray")
                return stray.state.withLock { $0.nextToken }
            }())
            #expect(await refusal(provider, attempt)?.message.contains("unknown key") == true)
        }
    }
}

extension Data {
    init(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self = Data(base64Encoded: base64) ?? Data()
    }
}
