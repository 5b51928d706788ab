/* The repository's test photos (tests/data/photos, see PROVENANCE), decoded. */
#ifndef ES_TESTS_COLLECT_PHOTOS_H
#define ES_TESTS_COLLECT_PHOTOS_H

#include "core/image.h"

/* tests/data/photos/<name> decoded; asserts that it reads and decodes. */
es_image tc_photo(const char *name);

#endif
