/* placeholder until the module lands */
typedef int cairn_http__empty;
