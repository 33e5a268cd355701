using Microsoft.ML.OnnxRuntimeGenAI;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>
/// The official onnxruntime-genai 0.20.0 runtime over one model folder (one intra-op thread: the machine is shared).
/// The oracle: a folder the builder writes must load, tokenize and generate in it.
/// </summary>
internal sealed class OfficialRuntime : IDisposable
{
    private readonly Config _config;

    public OfficialRuntime(string folder)
    {
        _config = new Config(folder);
        _config.Overlay("""{"model":{"decoder":{"session_options":{"intra_op_num_threads":1}}}}""");
        Model = new Model(_config);
        Tokenizer = new Tokenizer(Model);
    }

    public Model Model { get; }

    public Tokenizer Tokenizer { get; }

    /// <summary>The official tokenizer's ids for a text (0.20.0 adds no BOS for these folders).</summary>
    public int[] Encode(string text)
    {
        using var sequences = Tokenizer.Encode(text);
        return sequences[0].ToArray();
    }

    public string Decode(int[] ids) => Tokenizer.Decode(ids);

    /// <summary>
    /// Greedy ids from the official generator: the prompt, then new tokens until <paramref name="maxLength"/> in
    /// total (the prompt counts) or an EOS, which the generator picks but leaves out of the sequence.
    /// </summary>
    public int[] Greedy(int[] prompt, int maxLength)
    {
        using var parameters = new GeneratorParams(Model);
        parameters.SetSearchOption("max_length", maxLength);
        parameters.SetSearchOption("do_sample", false);
        using var generator = new Generator(Model, parameters);
        generator.AppendTokens(prompt);
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
        }

        return generator.GetSequence(0).ToArray();
    }

    public void Dispose()
    {
        Tokenizer.Dispose();
        Model.Dispose();
        _config.Dispose();
    }
}
