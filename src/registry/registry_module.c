/* placeholder until the module lands */
typedef int cairn_registry__empty;
