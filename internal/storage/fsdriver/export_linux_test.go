package fsdriver

const FSTopDirFL = fsTopDirFL
