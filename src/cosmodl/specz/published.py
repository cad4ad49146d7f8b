"""Published numbers of the specz stage's source project (note specz.md section 3).

The only verified number is the ADAX datathon's 3-block network on 5,000 training spectra of its
own (COSMOS-mock) data. The paper's accuracies are not verified and are not quoted.
"""

PUBLISHED = {"cnn3": {"accuracy": 0.216, "set": "validation", "n_train": 5000, "data": "ADAX (COSMOS mock), clean",
                      "source": "gtsagkatakis/ADAX-datathon notebook"}}
