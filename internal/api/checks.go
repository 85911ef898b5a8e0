package api

// Check names: the Check of a Reason, one per kind of refusal the
// publishing job, the zip checks (pkg/archive) and the package-spec
// validator report. Clients branch on them (CheckDuplicate above all), so
// the strings never change.
const (
	// CheckName: the file name is not NAME-VERSION.zip.
	CheckName = "name"
	// CheckSignature: missing, oversized, unverifiable or untrusted
	// signature.
	CheckSignature = "signature"
	// CheckSize: the zip or one of its entries is over a size or ratio
	// limit.
	CheckSize = "size"
	// CheckZip: the zip is missing or cannot be read as a zip.
	CheckZip = "zip"
	// CheckPath: an entry's path is unsafe, duplicated or not UTF-8.
	CheckPath = "path"
	// CheckRoot: the entries are not under one folder NAME-VERSION/.
	CheckRoot = "root"
	// CheckManifest: manifest.yml is missing, unreadable or names another
	// package, or the package document cannot be built from it.
	CheckManifest = "manifest"
	// CheckSpec: a package-spec validation problem (Reason.Code names the
	// rule).
	CheckSpec = "spec"
	// CheckDuplicate: NAME-VERSION is already published; published
	// revisions never change.
	CheckDuplicate = "duplicate"
	// CheckBusy: another submission holds NAME-VERSION; try again later.
	CheckBusy = "busy"
	// CheckUpload: the upload never completed.
	CheckUpload = "upload"
	// CheckInternal: the store failed while checking or writing.
	CheckInternal = "internal"
)

// Checks lists every check name, for tests and documentation.
var Checks = []string{CheckName, CheckSignature, CheckSize, CheckZip, CheckPath, CheckRoot, CheckManifest, CheckSpec, CheckDuplicate, CheckBusy, CheckUpload, CheckInternal}
