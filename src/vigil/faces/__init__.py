"""Who a face is: open-set matching against the gallery, the seed's trained classifiers, stranger clustering."""
