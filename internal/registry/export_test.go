package registry

// ZipFilesForTest lets the external tests build zips like the internal ones.
var ZipFilesForTest = zipFiles
