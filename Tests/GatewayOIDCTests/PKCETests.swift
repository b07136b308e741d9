import GatewayOIDC
import Testing

@Suite("PKCE") struct PKCETests {
    @Test("The S256 challenge of RFC 7636's example verifier is the RFC's")
    func rfcExample() {
        #expect(PKCE.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }
}
