// The consumer test's program (see .ci/consumer-test.sh). It is built OUTSIDE the repository against the packed
// LlmKit packages, exactly as a user's project would be, and exercises them through their public API only:
//   1. every assembly that every LlmKit package references loads (an undeclared or under-declared dependency
//      fails here, whatever code path it sits on);
//   2. LlmKit.ModelBuilder converts the real stories260K checkpoint;
//   3. LlmKit loads the folder and generates greedily; the text must begin like llama2.c's reference output;
//   4. LlmKit.Plugins.Compression compresses a text with the model as its scorer.
// Exit code 0 when all hold; 1 with one line on stderr naming what failed.
using System.Reflection;
using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Plugins.Compression;
using Microsoft.Extensions.DependencyInjection;
using LlmKit.Scoring;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Consumer <stories260K folder (stories260K.bin, tok512.bin)> <scratch folder>");
    return 2;
}

string modelSource = args[0];
string scratch = args[1];

// The first sentence of llama2.c's published greedy output for this checkpoint and prompt
// (shared/models/stories260K/README.md, "Reference output").
const string Prompt = "Once upon a time";
const string ReferenceStart = "Once upon a time, there was a little girl named Lily.";

try
{
    // 1. Dependency closure of every LlmKit assembly the packages brought in.
    string[] packaged = ["LlmKit", "LlmKit.Abstractions", "LlmKit.ModelBuilder", "LlmKit.Plugins.Compression",
        "LlmKit.Plugins.FewShot", "LlmKit.Plugins.Moderation", "LlmKit.Plugins.Ordinal", "LlmKit.Embeddings",
        "LlmKit.Embeddings.MiniLM", "LlmKit.OnnxRuntimeGenAI"];
    int references = 0;
    foreach (string name in packaged)
    {
        Assembly assembly = Assembly.Load(name);
        foreach (AssemblyName reference in assembly.GetReferencedAssemblies())
        {
            try
            {
                Assembly.Load(reference);
                references++;
            }
            catch (Exception ex) when (ex is FileNotFoundException or FileLoadException)
            {
                throw new InvalidOperationException($"{name} references {reference.FullName}, which the packages do not provide: {ex.Message}", ex);
            }
        }
    }

    Console.WriteLine($"dependency closure: {packaged.Length} LlmKit assemblies, {references} references, all load");

    // 2. Convert with the model builder's library API.
    string folder = Path.Combine(scratch, "stories260K");
    ConversionSummary summary = Llama2cConverter.Convert(new Llama2cConversionRequest(
        Path.Combine(modelSource, "stories260K.bin"), Path.Combine(modelSource, "tok512.bin"), folder));
    Console.WriteLine($"converted: {summary.ParameterCount:N0} parameters -> {folder}");

    // 3. Load and generate greedily.
    using var model = OnnxGenAIModel.Load(folder);
    GenerationResult result = await model.GenerateAsync(Prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 40 });
    string text = Prompt + result.Text;
    Console.WriteLine($"generated {result.GeneratedTokenCount} tokens: {text.ReplaceLineEndings(" ")}");
    if (!text.StartsWith(ReferenceStart, StringComparison.Ordinal))
    {
        Console.Error.WriteLine($"consumer: generated text does not begin with llama2.c's reference \"{ReferenceStart}\"");
        return 1;
    }

    // 4. The compression plugin, scoring with the same model.
    var compressor = new PromptCompressor(new OnnxTokenScorer(model));
    CompressionResult compressed = await compressor.CompressAsync(text, CompressionTarget.Rate(0.5));
    Console.WriteLine($"compressed: {compressed.OriginalTokens} -> {compressed.CompressedTokens} tokens");
    if (compressed.CompressedTokens <= 0 || compressed.CompressedTokens >= compressed.OriginalTokens)
    {
        Console.Error.WriteLine($"consumer: compression kept {compressed.CompressedTokens} of {compressed.OriginalTokens} tokens");
        return 1;
    }

    // 5. The offline embedding default: all-MiniLM-L6-v2 from the packaged resource assembly, extracted into scratch.
    var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
    services.AddLlmKitEmbeddings(options => options.CacheDirectory = Path.Combine(scratch, "embeddings-cache"));
    using (var provider = services.BuildServiceProvider())
    {
        var embedder = provider.GetRequiredService<Microsoft.Extensions.AI.IEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>>>();
        var embeddings = await embedder.GenerateAsync(["The soup was cold.", "The soup was lukewarm.", "Stocks fell sharply."]);
        float Cosine(int a, int b) => System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(embeddings[a].Vector.Span, embeddings[b].Vector.Span);
        Console.WriteLine($"embeddings: {embeddings[0].Vector.Length} dimensions, cos(soup, soup) {Cosine(0, 1):F3}, cos(soup, stocks) {Cosine(0, 2):F3}");
        if (embeddings[0].Vector.Length != 384 || Cosine(0, 1) <= Cosine(0, 2))
        {
            Console.Error.WriteLine("consumer: MiniLM embeddings are not 384-dimensional or do not rank the similar sentence first");
            return 1;
        }
    }

    return 0;
}
catch (Exception ex)
{
    Console.Error.WriteLine($"consumer: {ex.GetType().FullName}: {ex.Message}");
    return 1;
}
