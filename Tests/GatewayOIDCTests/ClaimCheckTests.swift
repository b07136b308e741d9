import Foundation
import GatewayApp
import GatewayOIDC
import Testing

/// The claim checks of an ID token whose signature verified (pure, no I/O).
@Suite("ID token claim checks") struct ClaimCheckTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let check = IDTokenCheck(issuer: "https://idp.example.test", clientID: "gateway", groupsClaim: "groups")

    func claims(_ change: (inout IDTokenClaims) -> Void = { _ in }) -> IDTokenClaims {
        var claims = IDTokenClaims(
            issuer: "https://idp.example.test", subject: "u1", audience: ["gateway"], expiresAt: now.addingTimeInterval(300),
            issuedAt: now, nonce: "n1", email: "a@example.test", emailVerified: true, stringLists: ["groups": ["ops", "db"]]
        )
        change(&claims)
        return claims
    }

    @Test("A token naming this gateway among several audiences must name it as the authorized party")
    func authorizedParty() throws {
        #expect(throws: IdentityProviderErrorDescription.self) { try check.identity(from: claims { $0.audience = ["gateway", "other"] }, nonce: "n1", now: now) }
        #expect(try check.identity(from: claims { $0.audience = ["gateway", "other"]; $0.authorizedParty = "gateway" }, nonce: "n1", now: now).subject == "u1")
    }

    @Test("A token issued in the future, or without a nonce, is refused")
    func issuedAtAndNonce() {
        #expect(throws: IdentityProviderErrorDescription.self) { try check.identity(from: claims { $0.issuedAt = now.addingTimeInterval(600) }, nonce: "n1", now: now) }
        #expect(throws: IdentityProviderErrorDescription.self) { try check.identity(from: claims { $0.nonce = nil }, nonce: "n1", now: now) }
    }

    @Test("The groups come from the configured claim; without the claim there is nothing to sync")
    func groups() throws {
        #expect(try check.identity(from: claims(), nonce: "n1", now: now).groups == ["ops", "db"])
        #expect(try check.identity(from: claims { $0.stringLists = [:] }, nonce: "n1", now: now).groups == nil)
        let unconfigured = IDTokenCheck(issuer: "https://idp.example.test", clientID: "gateway")
        #expect(try unconfigured.identity(from: claims(), nonce: "n1", now: now).groups == nil)
    }

    @Test("email_verified sent as the string \"true\" counts; a missing one does not")
    func emailVerifiedLenient() throws {
        let decode = { (json: String) in try JSONDecoder().decode(IDTokenClaims.self, from: Data(json.utf8)) }
        #expect(try decode(#"{"iss":"i","sub":"s","aud":"gateway","exp":1,"email":"a@b.c","email_verified":"true"}"#).emailVerified)
        #expect(try decode(#"{"iss":"i","sub":"s","aud":["gateway"],"exp":1,"email":"a@b.c"}"#).emailVerified == false)
        #expect(throws: (any Error).self) { try decode(#"{"iss":"i","sub":"s","exp":1}"#) }
    }
}
