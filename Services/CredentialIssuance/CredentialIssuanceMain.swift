import SigilService

@main
enum CredentialIssuanceMain {
    static func main() async {
        await SigilServiceRuntime.main(.credentialIssuance)
    }
}
