/* placeholder until the module lands */
typedef int cairn_track__empty;
