/* placeholder until the module lands */
typedef int cairn_blob__empty;
