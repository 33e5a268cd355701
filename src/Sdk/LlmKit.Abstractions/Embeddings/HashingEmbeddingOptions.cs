namespace LlmKit.Embeddings;

/// <summary>Settings of <see cref="HashingEmbeddingGenerator"/>.</summary>
public sealed record HashingEmbeddingOptions
{
    /// <summary>Length of every vector (hash buckets). Default 1024; allowed 16 to 1,048,576.</summary>
    public int Dimensions { get; init; } = 1024;

    /// <summary>Shortest character n-gram taken from each word (with boundary marks). Default 3; 0 turns character n-grams off.</summary>
    public int MinCharNGram { get; init; } = 3;

    /// <summary>Longest character n-gram. Default 5.</summary>
    public int MaxCharNGram { get; init; } = 5;

    /// <summary>Longest word n-gram (1 = words only, 2 = words and bigrams). Default 2; allowed 1 to 4.</summary>
    public int MaxWordNGram { get; init; } = 2;

    /// <summary>Weight of character n-gram features relative to word features. Default 0.5.</summary>
    public float CharNGramWeight { get; init; } = 0.5f;

    /// <summary>Lower-case text before hashing. Default true.</summary>
    public bool Lowercase { get; init; } = true;

    internal void Validate()
    {
        if (Dimensions is < 16 or > 1 << 20)
        {
            throw new ArgumentOutOfRangeException(nameof(Dimensions), Dimensions, "Dimensions must be between 16 and 1,048,576.");
        }

        if (MaxCharNGram > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCharNGram), MaxCharNGram, "MaxCharNGram must be <= 16.");
        }

        if (MinCharNGram < 0 || (MinCharNGram > 0 && MaxCharNGram < MinCharNGram))
        {
            throw new ArgumentOutOfRangeException(nameof(MinCharNGram), MinCharNGram, $"Character n-gram range [{MinCharNGram}, {MaxCharNGram}] is invalid: need 0 (off) or 1 <= MinCharNGram <= MaxCharNGram <= 16.");
        }

        if (MaxWordNGram is < 1 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWordNGram), MaxWordNGram, "MaxWordNGram must be between 1 and 4.");
        }

        if (!(CharNGramWeight >= 0 && float.IsFinite(CharNGramWeight)))
        {
            throw new ArgumentOutOfRangeException(nameof(CharNGramWeight), CharNGramWeight, "CharNGramWeight must be a finite number >= 0.");
        }
    }
}
