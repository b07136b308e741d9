import AsyncHTTPClient
import Foundation
import GatewayApp
import GatewayCore
import JWTKit
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// The organisation's OpenID Connect provider, seen from the gateway (a confidential or public
/// client using the authorization code flow with PKCE).
///
/// The discovery document and the key set are fetched on first use and cached; the key set is
/// fetched again when a token names a key id it does not hold (the provider rotated its keys), at
/// most once every ``Configuration/keyRefreshInterval``, so that made-up key ids cannot make the
/// gateway hammer the provider. Only the algorithms in ``Configuration/algorithms`` (and offered by
/// the provider) are accepted: never `none`, never a shared-secret `HS*`.
public actor OpenIDProvider: IdentityProvider {
    public struct Configuration: Sendable, Hashable {
        public var issuer: String
        public var clientID: String
        /// `nil` for a public client (PKCE only).
        public var clientSecret: String?
        public var scopes: [String]
        public var displayName: String
        public var groupsClaim: String?
        /// A PEM file of the certificate authorities to trust for the provider, instead of the system's.
        public var caFile: String?
        public var algorithms: Set<String> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
        public var timeout: TimeAmount = .seconds(10)
        public var keyRefreshInterval: TimeInterval = 10
        /// How long a discovery document is trusted before it is fetched again.
        public var metadataLifetime: TimeInterval = 3600

        public init(issuer: String, clientID: String, clientSecret: String?, scopes: [String], displayName: String, groupsClaim: String? = nil, caFile: String? = nil) {
            self.issuer = issuer
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.scopes = scopes
            self.displayName = displayName
            self.groupsClaim = groupsClaim
            self.caFile = caFile
        }
    }

    public nonisolated let displayName: String
    let configuration: Configuration
    let client: HTTPClient
    let clock: any GatewayClock
    let logger: Logger

    private var metadata: (document: ProviderMetadata, fetchedAt: Date)?
    private var keys: (collection: JWTKeyCollection, kids: Set<String>, fetchedAt: Date)?

    /// - Throws: when `caFile` cannot be read.
    public init(configuration: Configuration, clock: any GatewayClock = SystemClock(), logger: Logger = Logger(label: "approval-gateway.oidc")) throws {
        self.configuration = configuration
        self.displayName = configuration.displayName
        self.clock = clock
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.caFile {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        var settings = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        settings.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(5), read: configuration.timeout)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: settings)
    }

    /// Closes the HTTP client's connections.
    public func shutdown() async {
        try? await client.shutdown()
    }

    // MARK: IdentityProvider

    public func authorizationURL(for attempt: ProviderSignInAttempt, redirectURI: String) async throws -> String {
        let document = try await discovery()
        let parameters: [(String, String)] = [
            ("response_type", "code"), ("client_id", configuration.clientID), ("redirect_uri", redirectURI),
            ("scope", configuration.scopes.joined(separator: " ")), ("state", attempt.state), ("nonce", attempt.nonce),
            ("code_challenge", PKCE.challenge(for: attempt.codeVerifier)), ("code_challenge_method", "S256"),
        ]
        let separator = document.authorizationEndpoint.contains("?") ? "&" : "?"
        return document.authorizationEndpoint + separator + FormEncoding.encode(parameters)
    }

    public func identity(code: String, attempt: ProviderSignInAttempt, redirectURI: String) async throws -> ProviderIdentity {
        let document = try await discovery()
        let idToken = try await exchange(code: code, verifier: attempt.codeVerifier, redirectURI: redirectURI, at: document.tokenEndpoint, metadata: document)
        let claims = try await verifySignature(of: idToken, metadata: document)
        var check = IDTokenCheck(issuer: document.issuer, clientID: configuration.clientID, groupsClaim: configuration.groupsClaim)
        check.leeway = 60
        do throws(IdentityProviderErrorDescription) {
            return try check.identity(from: claims, nonce: attempt.nonce, now: clock.now)
        } catch {
            throw IdentityProviderError(.invalidToken, error.message)
        }
    }

    public func endSessionURL(postLogoutRedirectURI: String) async -> String? {
        guard let endpoint = try? await discovery().endSessionEndpoint, ProviderMetadata.isAcceptableEndpoint(endpoint) else { return nil }
        let separator = endpoint.contains("?") ? "&" : "?"
        return endpoint + separator + FormEncoding.encode([("client_id", configuration.clientID), ("post_logout_redirect_uri", postLogoutRedirectURI)])
    }

    // MARK: Discovery and keys

    /// The provider's discovery document, fetched and checked (for `config check`).
    public func discoveryDocument() async throws -> ProviderMetadata {
        try await discovery()
    }

    func discovery() async throws -> ProviderMetadata {
        if let metadata, clock.now.timeIntervalSince(metadata.fetchedAt) < configuration.metadataLifetime { return metadata.document }
        let url = ProviderMetadata.discoveryURL(issuer: configuration.issuer)
        let body = try await get(url, what: "discovery document")
        let document: ProviderMetadata
        do {
            document = try JSONDecoder().decode(ProviderMetadata.self, from: body)
            try document.validate(expectedIssuer: configuration.issuer)
        } catch let error as IdentityProviderErrorDescription {
            throw IdentityProviderError(.misconfigured, error.message)
        } catch {
            throw IdentityProviderError(.misconfigured, "the discovery document at \(url) is not usable: \(error)")
        }
        metadata = (document, clock.now)
        return document
    }

    /// The signing keys, fetched again when `kid` is unknown (and the last fetch is not too recent).
    func keyCollection(for kid: String?, metadata document: ProviderMetadata, refresh: Bool = false) async throws -> JWTKeyCollection {
        if let keys, !refresh, kid.map(keys.kids.contains) ?? true { return keys.collection }
        if let keys, clock.now.timeIntervalSince(keys.fetchedAt) < configuration.keyRefreshInterval {
            throw IdentityProviderError(.invalidToken, "the ID token is signed with an unknown key (\(kid ?? "no key id"))")
        }
        let body = try await get(document.jwksURI, what: "key set")
        let set: JWKS
        let uses: [String?]
        do {
            set = try JSONDecoder().decode(JWKS.self, from: body)
            uses = try JSONDecoder().decode(KeyUses.self, from: body).keys.map(\.use)
        } catch {
            throw IdentityProviderError(.misconfigured, "the key set at \(document.jwksURI) is not a JSON Web Key Set: \(error)")
        }
        let collection = JWTKeyCollection()
        var kids: Set<String> = []
        for (index, var key) in set.keys.enumerated() {
            // Signing keys only; a key without an id gets one, so that it can still be tried.
            if let use = uses[index], use != "sig" { continue }
            if key.keyIdentifier == nil { key.keyIdentifier = JWKIdentifier(string: "unnamed-\(index)") }
            do {
                try await collection.add(jwk: key)
                kids.insert(key.keyIdentifier!.string)
            } catch {
                logger.warning("identity provider: key \(key.keyIdentifier?.string ?? "?") of \(document.jwksURI) skipped: \(error)")
            }
        }
        guard !kids.isEmpty else { throw IdentityProviderError(.misconfigured, "the key set at \(document.jwksURI) holds no usable signing key") }
        keys = (collection, kids, clock.now)
        logger.info("identity provider: \(kids.count) signing keys loaded from \(document.jwksURI)")
        if let kid, !kids.contains(kid) {
            throw IdentityProviderError(.invalidToken, "the ID token is signed with an unknown key (\(kid))")
        }
        return collection
    }

    /// Verifies the token's signature (and that its algorithm is allowed); the claims are checked after.
    func verifySignature(of token: String, metadata document: ProviderMetadata) async throws -> IDTokenClaims {
        let header: TokenHeader
        do {
            header = try TokenHeader(token)
        } catch {
            throw IdentityProviderError(.invalidToken, error.message)
        }
        var allowed = configuration.algorithms
        if let offered = document.idTokenSigningAlgValuesSupported { allowed.formIntersection(offered) }
        guard allowed.contains(header.algorithm) else {
            throw IdentityProviderError(.invalidToken, "the ID token is signed with \(header.algorithm), which is not accepted (\(allowed.sorted().joined(separator: ", ")))")
        }
        let collection = try await keyCollection(for: header.keyID, metadata: document)
        do {
            return try await collection.verify(token, as: IDTokenClaims.self, iteratingKeys: header.keyID == nil)
        } catch {
            // A token without a key id (or reusing one) may be signed with a key published since
            // the set was cached: look once more, when the last look is not too recent.
            if let fetched = keys?.fetchedAt, clock.now.timeIntervalSince(fetched) >= configuration.keyRefreshInterval,
               let fresh = try? await keyCollection(for: header.keyID, metadata: document, refresh: true),
               let claims = try? await fresh.verify(token, as: IDTokenClaims.self, iteratingKeys: header.keyID == nil) {
                return claims
            }
            throw IdentityProviderError(.invalidToken, "the ID token's signature does not verify: \(error)")
        }
    }

    // MARK: HTTP

    func exchange(code: String, verifier: String, redirectURI: String, at endpoint: String, metadata document: ProviderMetadata) async throws -> String {
        var form: [(String, String)] = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", verifier),
        ]
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        if let secret = configuration.clientSecret {
            let methods = document.tokenEndpointAuthMethodsSupported ?? ["client_secret_basic"]
            if methods.contains("client_secret_basic") || !methods.contains("client_secret_post") {
                // RFC 6749 section 2.3.1: both parts form-encoded before Basic encoding.
                let credentials = FormEncoding.component(configuration.clientID) + ":" + FormEncoding.component(secret)
                request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
            } else {
                form += [("client_id", configuration.clientID), ("client_secret", secret)]
            }
        } else {
            form.append(("client_id", configuration.clientID))
        }
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))
        let (status, body) = try await send(request, what: "token endpoint")
        guard status == .ok else {
            let answer = try? JSONDecoder().decode(TokenErrorAnswer.self, from: body)
            let reason = answer.map { [$0.error, $0.errorDescription].compactMap { $0 }.joined(separator: ": ") } ?? "HTTP \(status.code)"
            throw IdentityProviderError(.codeRefused, "the provider refused the authorization code (\(reason))")
        }
        guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: body), let idToken = answer.idToken else {
            throw IdentityProviderError(.invalidToken, "the token endpoint's answer holds no ID token")
        }
        return idToken
    }

    func get(_ url: String, what: String) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let (status, body) = try await send(request, what: what)
        guard status == .ok else { throw IdentityProviderError(.unreachable, "the provider's \(what) at \(url) answered HTTP \(status.code)") }
        return body
    }

    func send(_ request: HTTPClientRequest, what: String) async throws -> (HTTPResponseStatus, Data) {
        do {
            let response = try await client.execute(request, timeout: configuration.timeout)
            let body = try await response.body.collect(upTo: 1 << 20)
            return (response.status, Data(buffer: body))
        } catch let error as IdentityProviderError {
            throw error
        } catch {
            let target = request.url.split(separator: "?").first.map(String.init) ?? request.url
            throw IdentityProviderError(.unreachable, "cannot reach the provider's \(what) at \(target): \(error)")
        }
    }
}

/// The `use` of each key of a key set, which `JWK` does not keep.
struct KeyUses: Decodable {
    struct Entry: Decodable { var use: String? }
    var keys: [Entry]
}

/// The token endpoint's answers (RFC 6749 sections 5.1 and 5.2).
struct TokenAnswer: Decodable {
    var idToken: String?
    enum CodingKeys: String, CodingKey { case idToken = "id_token" }
}

struct TokenErrorAnswer: Decodable {
    var error: String?
    var errorDescription: String?
    enum CodingKeys: String, CodingKey {
        case error
        case errorDescription = "error_description"
    }
}

/// The protected header of a compact JWS, read before the key is chosen.
struct TokenHeader {
    var algorithm: String
    var keyID: String?

    struct Fields: Decodable {
        var alg: String
        var kid: String?
    }

    init(_ token: String) throws(IdentityProviderErrorDescription) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Self.base64URLDecode(String(parts[0])),
              let fields = try? JSONDecoder().decode(Fields.self, from: data) else {
            throw IdentityProviderErrorDescription("the ID token is not a signed JWT")
        }
        algorithm = fields.alg
        keyID = fields.kid
    }

    static func base64URLDecode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

/// `application/x-www-form-urlencoded` and query strings.
enum FormEncoding {
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func component(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { component($0.0) + "=" + component($0.1) }.joined(separator: "&")
    }
}
