"""The array datapath: configuration, weight decoder, processing elements, the PE array."""
