"""One package per paper of the book (`repro_lib/parts/<part>/`). Core never imports these
by name: the list of parts and the lookup by name are in `repro_lib.book_parts`."""
