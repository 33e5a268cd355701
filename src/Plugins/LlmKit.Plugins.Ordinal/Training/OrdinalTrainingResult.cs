namespace LlmKit.Plugins.Ordinal.Training;

/// <summary>What <see cref="OrdinalTrainer.Train"/> produced and how training went.</summary>
public sealed class OrdinalTrainingResult
{
    internal OrdinalTrainingResult(
        OrdinalModel model, int epochsRun, int bestEpoch, bool stoppedEarly,
        IReadOnlyList<double> trainingLoss, IReadOnlyList<double> validationLoss,
        int trainingRows, IReadOnlyList<int> validationRowIndices, TimeSpan elapsed)
    {
        Model = model;
        EpochsRun = epochsRun;
        BestEpoch = bestEpoch;
        StoppedEarly = stoppedEarly;
        TrainingLoss = trainingLoss;
        ValidationLoss = validationLoss;
        TrainingRows = trainingRows;
        ValidationRowIndices = validationRowIndices;
        Elapsed = elapsed;
    }

    /// <summary>The trained model (with the parameters of <see cref="BestEpoch"/> when early stopping was on).</summary>
    public OrdinalModel Model { get; }

    /// <summary>Epochs actually run.</summary>
    public int EpochsRun { get; }

    /// <summary>1-based epoch whose parameters the model holds (the last one without a validation split).</summary>
    public int BestEpoch { get; }

    /// <summary>Whether training stopped before the epoch limit because validation loss stopped improving.</summary>
    public bool StoppedEarly { get; }

    /// <summary>Mean weighted training loss of each epoch.</summary>
    public IReadOnlyList<double> TrainingLoss { get; }

    /// <summary>Mean weighted validation loss after each epoch (empty without a validation split).</summary>
    public IReadOnlyList<double> ValidationLoss { get; }

    /// <summary>Rows used for gradient steps (and for fitting the standardiser).</summary>
    public int TrainingRows { get; }

    /// <summary>Number of rows held out for early stopping.</summary>
    public int ValidationRows => ValidationRowIndices.Count;

    /// <summary>Indices (into the dataset given to the trainer) of the rows held out for early stopping, ascending.</summary>
    public IReadOnlyList<int> ValidationRowIndices { get; }

    /// <summary>Wall-clock training time.</summary>
    public TimeSpan Elapsed { get; }
}
