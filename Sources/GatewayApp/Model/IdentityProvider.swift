import Foundation
import GatewayCore

/// The organisation's identity provider (OpenID Connect), as the web layer uses it: where to send
/// a browser to sign in, and who came back. The adapter (GatewayOIDC) does the protocol and every
/// cryptographic check; the approval service decides what a verified identity may do.
public protocol IdentityProvider: Sendable {
    /// The provider's name on the sign-in page ("Sign in with …").
    var displayName: String { get }

    /// The provider's authorization URL for one sign-in attempt (code flow with PKCE, `state` and
    /// `nonce` from `attempt`).
    /// - Throws: ``IdentityProviderError`` when the provider cannot be reached or described itself badly.
    func authorizationURL(for attempt: ProviderSignInAttempt, redirectURI: String) async throws -> String

    /// Exchanges an authorization code and verifies the ID token it brings: signature against the
    /// provider's keys, issuer, audience, expiry and the attempt's nonce.
    /// - Throws: ``IdentityProviderError``; nothing unverified is ever returned.
    func identity(code: String, attempt: ProviderSignInAttempt, redirectURI: String) async throws -> ProviderIdentity

    /// Where a browser can end its session at the provider too, when the provider offers that.
    func endSessionURL(postLogoutRedirectURI: String) async -> String?
}

/// Who the identity provider says signed in: the claims of a verified ID token.
public struct ProviderIdentity: Sendable, Hashable {
    public var issuer: String
    public var subject: String
    public var email: String?
    /// The provider vouches for the address (`email_verified`); an unverified address is never matched.
    public var emailVerified: Bool
    public var name: String?
    /// The provider's groups (the configured groups claim), `nil` when none is configured or sent.
    public var groups: [String]?

    public init(issuer: String, subject: String, email: String?, emailVerified: Bool, name: String? = nil, groups: [String]? = nil) {
        self.issuer = issuer
        self.subject = subject
        self.email = email
        self.emailVerified = emailVerified
        self.name = name
        self.groups = groups
    }
}

/// The secrets of one sign-in attempt, kept in the browser (in a signed cookie) from the redirect
/// to the provider until its callback: `state` binds the callback to this browser, `nonce` the ID
/// token to this attempt, and the PKCE verifier the code to this client.
public struct ProviderSignInAttempt: Sendable, Hashable, Codable {
    public var state: String
    public var nonce: String
    public var codeVerifier: String
    /// A path of this gateway to land on after signing in.
    public var returnTo: String
    public var startedAt: Date

    public init(state: String, nonce: String, codeVerifier: String, returnTo: String, startedAt: Date) {
        self.state = state
        self.nonce = nonce
        self.codeVerifier = codeVerifier
        self.returnTo = returnTo
        self.startedAt = startedAt
    }

    /// A new attempt with fresh random values (256 bits each).
    public static func start(returnTo: String, now: Date) -> ProviderSignInAttempt {
        ProviderSignInAttempt(
            state: Secrets.randomToken(), nonce: Secrets.randomToken(), codeVerifier: Secrets.randomToken(),
            returnTo: returnTo, startedAt: now
        )
    }

    /// How long an attempt may take, from the redirect to the callback.
    public static let lifetime: TimeInterval = 10 * 60
}

/// Why the identity provider's answer was not accepted. The message is for the log and the page;
/// it never holds a token.
public struct IdentityProviderError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The provider could not be reached, or answered with an error status.
        case unreachable
        /// The provider's discovery document or key set is unusable.
        case misconfigured
        /// The provider refused to exchange the code.
        case codeRefused
        /// The ID token failed a check: signature, issuer, audience, expiry, nonce or algorithm.
        case invalidToken
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "identity provider: \(message)" }
}

/// The result of signing in with a verified identity.
public enum ProviderSignInOutcome: Sendable, Hashable {
    /// Signed in as an active user of the directory.
    case signedIn(NewSession)
    /// The token names no address, or one the provider does not vouch for.
    case emailNotVerified(email: String?)
    /// The address is not an active user of the directory; nothing is created.
    case notAUser(email: String)
}
