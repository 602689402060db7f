/// The software version `status` and `--version` report, shared by newsd and newsctl.
public enum NewsdVersion {
    public static let current = "0.1.0"
}
